#include "models/cuda/gru4rec_device.h"

#include <algorithm>
#include <string>
#include <utility>

#include "core/random.h"
#include "models/cuda/growing_buffer.h"
#include "models/cuda/gru_device.h"
#include "models/cuda/layer_kernels.h"
#include "models/sequence_losses.h"

namespace fedrec::kernels {

Gru4RecWindowBatch Gru4RecWindowBatch::Pack(const Gru4RecOptions& o, const ExcludedItems& excluded,
                                            std::span<const UserSequence> batch, const StepKey& key,
                                            gru4rec_internal::NegativeScratch* scratch) {
  Gru4RecWindowBatch w;
  const bool bpr = o.loss == SeqLoss::kBpr;
  w.negatives = bpr ? o.negatives : 0;
  if (!bpr) w.shared.width = o.negatives;
  if (gru4rec_internal::IsFullSoftmax(o)) {
    w.excluded.assign(excluded.items().begin(), excluded.items().end());
  }
  struct Kept {
    const UserSequence* seq;
    size_t steps;
    std::vector<uint32_t> drawn;
  };
  std::vector<Kept> kept;
  std::vector<double> logq;  // uniform negatives: stays empty
  for (const UserSequence& s : batch) {
    if (s.items.size() < 2) continue;
    const size_t steps = std::min<size_t>(s.items.size() - 1, o.max_len);
    Kept k{&s, steps, {}};
    if (!gru4rec_internal::DrawNegatives(o, nullptr, excluded, key, s.user, s.items, steps, scratch,
                                         &k.drawn, &logq)) {
      continue;
    }
    w.steps = std::max(w.steps, steps);
    kept.push_back(std::move(k));
  }
  const size_t B = kept.size(), T = w.steps, rows = B * T, neg = w.negatives;
  w.batch = B;
  w.inputs.assign(rows, kNoItem);
  w.targets.assign(rows, kNoItem);
  w.drawn.assign(neg * rows, kNoItem);
  for (size_t b = 0; b < B; ++b) {
    const Kept& k = kept[b];
    const std::span<const uint32_t> items = k.seq->items;
    const size_t n = items.size(), pad = T - k.steps;
    for (size_t s = 0; s < k.steps; ++s) {
      const size_t row = (pad + s) * B + b;
      w.inputs[row] = items[n - 1 - k.steps + s];
      w.targets[row] = items[n - k.steps + s];
      for (size_t j = 0; j < neg; ++j) w.drawn[j * rows + row] = k.drawn[s * neg + j];
    }
    if (!bpr) w.shared.AddWindow(k.drawn, {});
    w.users.push_back(k.seq->user);
    w.first.push_back(static_cast<uint32_t>(pad));
    w.examples += k.steps;
  }
  return w;
}

Gru4RecWindowBatch Gru4RecWindowBatch::PackHistories(
    std::span<const std::span<const uint32_t>> histories, size_t len) {
  Gru4RecWindowBatch w;
  const size_t B = histories.size();
  w.batch = B;
  w.steps = len;
  w.users.assign(B, 0);
  w.inputs.assign(B * len, kNoItem);
  w.targets.assign(B * len, kNoItem);
  for (size_t b = 0; b < B; ++b) {
    const std::span<const uint32_t> h = histories[b];
    const size_t n = std::min(h.size(), len), pad = len - n;
    for (size_t s = 0; s < n; ++s) w.inputs[(pad + s) * B + b] = h[h.size() - n + s];
    w.first.push_back(static_cast<uint32_t>(pad));
  }
  return w;
}

// Buffers in the ops' memory, kept between calls and grown when a batch
// needs more.
struct Gru4RecDeviceProgram::Scratch {
  std::vector<std::unique_ptr<GruDeviceLayer>> layers;
  // masks[m]: layer m's input mask, masks[layers] the output's; ins[l]:
  // layer l's (masked) input; outs[l]: its output.
  std::vector<GrowingBuffer> masks, ins, outs;
  GrowingBuffer first, sources, inputs, targets, drawn, valid, fin, pos, neg, loss, dpos, dneg,
      dfin, dx, item_rows, scatter_rows, scatter_offsets, scatter_positions, last_rows;
  // The shared losses' batch-major copies: the permutations both ways, the
  // states, their gradient, the targets and flags.
  GrowingBuffer to_batch_major, to_time_major, h_bm, dh_bm, targets_bm, valid_bm;
};

absl::StatusOr<std::unique_ptr<Gru4RecDeviceProgram>> Gru4RecDeviceProgram::Create(
    const Gru4RecOptions& o, TensorOps* ops) {
  std::string unsupported;
  if (o.loss != SeqLoss::kBpr && !gru4rec_internal::IsFullSoftmax(o)) {
    if (o.negatives_per_position) unsupported = "train.negative_sharing = position";
    if (o.sampler != NegativeSampler::kUniform) unsupported = "popularity negatives";
  }
  if (o.loss != SeqLoss::kBpr) {
    if (o.normalize) unsupported = "normalised embeddings";
    if (o.temperature != 1.0) unsupported = "a temperature";
  }
  if (o.item_repr.repr != ItemRepr::kId) unsupported = "model.item_repr other than id";
  if (o.dim == 0 || o.layers == 0) unsupported = "an empty model";
  if (!unsupported.empty()) {
    return absl::InvalidArgumentError(
        "the GPU GRU4Rec does not support " + unsupported +
        " yet (BPR, the full softmax, or sampled softmax / gBCE over uniform shared negatives, "
        "on item ids)");
  }
  return std::unique_ptr<Gru4RecDeviceProgram>(new Gru4RecDeviceProgram(o, ops));
}

Gru4RecDeviceProgram::Gru4RecDeviceProgram(const Gru4RecOptions& o, TensorOps* ops)
    : o_(o), ops_(ops), scratch_(std::make_unique<Scratch>()) {
  for (uint32_t l = 0; l < o.layers; ++l)
    scratch_->layers.push_back(std::make_unique<GruDeviceLayer>(ops, o.dim));
  scratch_->masks.resize(o.layers + 1);
  scratch_->ins.resize(o.layers);
  scratch_->outs.resize(o.layers);
  if (gru4rec_internal::IsFullSoftmax(o)) {
    full_head_ = std::make_unique<FullSoftmaxHead>(ops);
  } else if (o.loss != SeqLoss::kBpr) {
    const bool gbce = o.loss == SeqLoss::kGbce;
    head_ = std::make_unique<SharedNegativesHead>(
        ops, gbce, gbce ? seqloss::GbceBeta(o.negatives, o.num_items, o.gbce_t) : 1.0);
  }
}

Gru4RecDeviceProgram::~Gru4RecDeviceProgram() = default;

absl::StatusOr<const float*> Gru4RecDeviceProgram::Forward(const float* const* params,
                                                           const Gru4RecWindowBatch& batch,
                                                           const StepKey& key, bool drop) {
  TensorOps& ops = *ops_;
  Scratch& s = *scratch_;
  const size_t B = batch.batch, T = batch.steps, d = o_.dim, rows = B * T, nd = rows * d;
  const uint32_t L = o_.layers;
  FEDREC_ASSIGN_OR_RETURN(uint32_t * first,
                          s.first.Put<uint32_t>(ops, std::span<const uint32_t>(batch.first)));
  FEDREC_ASSIGN_OR_RETURN(uint32_t * inputs,
                          s.inputs.Put<uint32_t>(ops, std::span<const uint32_t>(batch.inputs)));
  // Sources: mask m of window b at m B + b, from word m T_b d of its stream.
  const MaskSource* sources = nullptr;
  if (drop) {
    std::vector<MaskSource> host((L + 1) * B);
    for (size_t b = 0; b < B; ++b) {
      const PhiloxStream stream =
          MakePhiloxStream(key.seed, Fnv1a64("dropout"), key.epoch, batch.users[b], key.step);
      const uint64_t td = uint64_t{T - batch.first[b]} * d;
      for (uint32_t m = 0; m <= L; ++m) host[m * B + b] = {stream, m * td};
    }
    FEDREC_ASSIGN_OR_RETURN(sources,
                            s.sources.Put<MaskSource>(ops, std::span<const MaskSource>(host)));
  }
  // Layer l reads ins[l]: the embedded inputs (l = 0) or the previous
  // layer's output, times its mask under dropout.
  FEDREC_ASSIGN_OR_RETURN(float* x, s.ins[0].Get<float>(ops, nd));
  FEDREC_RETURN_IF_ERROR(ops.Gather(params[Gru4RecModel::kItemEmb], d, inputs, rows, 1.0f, x));
  const float* in = x;
  for (uint32_t l = 0; l < L; ++l) {
    FEDREC_ASSIGN_OR_RETURN(float* layer_in, s.ins[l].Get<float>(ops, nd));
    if (l > 0) FEDREC_RETURN_IF_ERROR(ops.Copy(in, nd, layer_in));
    if (drop) {
      FEDREC_ASSIGN_OR_RETURN(float* mask, s.masks[l].Get<float>(ops, nd));
      FEDREC_RETURN_IF_ERROR(
          ops.StepDropoutMasks(sources + l * B, first, o_.dropout, B, T, d, mask));
      FEDREC_RETURN_IF_ERROR(ops.Multiply(layer_in, mask, nd, layer_in));
    }
    FEDREC_ASSIGN_OR_RETURN(float* out, s.outs[l].Get<float>(ops, nd));
    const GruDeviceWeights w{
        params[Gru4RecModel::GruTensor(l, 0)], params[Gru4RecModel::GruTensor(l, 1)],
        params[Gru4RecModel::GruTensor(l, 2)], params[Gru4RecModel::GruTensor(l, 3)]};
    FEDREC_RETURN_IF_ERROR(s.layers[l]->Forward(w, layer_in, first, B, T, out));
    in = out;
  }
  FEDREC_ASSIGN_OR_RETURN(float* fin, s.fin.Get<float>(ops, nd));
  FEDREC_RETURN_IF_ERROR(ops.Copy(in, nd, fin));
  if (drop) {
    FEDREC_ASSIGN_OR_RETURN(float* mask, s.masks[L].Get<float>(ops, nd));
    FEDREC_RETURN_IF_ERROR(ops.StepDropoutMasks(sources + L * B, first, o_.dropout, B, T, d, mask));
    FEDREC_RETURN_IF_ERROR(ops.Multiply(fin, mask, nd, fin));
  }
  return fin;
}

absl::Status Gru4RecDeviceProgram::LastStates(const float* const* params,
                                              const Gru4RecWindowBatch& batch, float* states) {
  if (batch.batch == 0) return absl::OkStatus();
  if (batch.steps == 0 || batch.steps > o_.max_len) {
    return absl::InvalidArgumentError("last states: windows of " + std::to_string(batch.steps) +
                                      " steps, max_len " + std::to_string(o_.max_len));
  }
  TensorOps& ops = *ops_;
  FEDREC_RETURN_IF_ERROR(ops.BindToCallingThread());
  FEDREC_ASSIGN_OR_RETURN(const float* fin, Forward(params, batch, StepKey{}, false));
  const size_t B = batch.batch, T = batch.steps;
  std::vector<uint32_t> last(B);
  for (size_t b = 0; b < B; ++b) {
    last[b] = batch.first[b] < T ? static_cast<uint32_t>((T - 1) * B + b) : kNoItem;
  }
  FEDREC_ASSIGN_OR_RETURN(uint32_t * rows,
                          scratch_->last_rows.Put<uint32_t>(ops, std::span<const uint32_t>(last)));
  return ops.Gather(fin, o_.dim, rows, B, 1.0f, states);
}

absl::Status Gru4RecDeviceProgram::Scatter(std::span<const uint32_t> ids, const float* src,
                                           float* table) {
  TensorOps& ops = *ops_;
  Scratch& s = *scratch_;
  const ScatterPlan plan = BuildScatterPlan(ids.data(), ids.size());
  if (plan.rows.empty()) return absl::OkStatus();
  FEDREC_ASSIGN_OR_RETURN(uint32_t * r, s.scatter_rows.Put<uint32_t>(ops, plan.rows));
  FEDREC_ASSIGN_OR_RETURN(uint32_t * off, s.scatter_offsets.Put<uint32_t>(ops, plan.offsets));
  FEDREC_ASSIGN_OR_RETURN(uint32_t * at, s.scatter_positions.Put<uint32_t>(ops, plan.positions));
  return ops.ScatterAdd(r, off, at, plan.rows.size(), src, o_.dim, 1.0f, table);
}

absl::StatusOr<std::vector<float>> Gru4RecDeviceProgram::SharedLoss(const float* fin,
                                                                    const float* table,
                                                                    const Gru4RecWindowBatch& batch,
                                                                    float* dfin, float* dtable) {
  TensorOps& ops = *ops_;
  Scratch& s = *scratch_;
  const size_t B = batch.batch, T = batch.steps, d = o_.dim, rows = B * T, nd = rows * d;
  // Batch-major row b T + t <-> time-major row t B + b (padding rows
  // gather zeros).
  std::vector<uint32_t> to_bm(rows), to_tm(rows), targets_bm(rows);
  std::vector<uint8_t> valid_bm(rows);
  for (size_t b = 0; b < B; ++b) {
    for (size_t t = 0; t < T; ++t) {
      const size_t bm = b * T + t, tm = t * B + b;
      const bool valid = t >= batch.first[b];
      to_bm[bm] = valid ? static_cast<uint32_t>(tm) : kNoItem;
      to_tm[tm] = valid ? static_cast<uint32_t>(bm) : kNoItem;
      targets_bm[bm] = batch.targets[tm];
      valid_bm[bm] = valid ? 1 : 0;
    }
  }
  FEDREC_ASSIGN_OR_RETURN(uint32_t * bm_ids,
                          s.to_batch_major.Put<uint32_t>(ops, std::span<const uint32_t>(to_bm)));
  FEDREC_ASSIGN_OR_RETURN(uint32_t * tm_ids,
                          s.to_time_major.Put<uint32_t>(ops, std::span<const uint32_t>(to_tm)));
  FEDREC_ASSIGN_OR_RETURN(uint32_t * targets,
                          s.targets_bm.Put<uint32_t>(ops, std::span<const uint32_t>(targets_bm)));
  FEDREC_ASSIGN_OR_RETURN(uint8_t * valid,
                          s.valid_bm.Put<uint8_t>(ops, std::span<const uint8_t>(valid_bm)));
  FEDREC_ASSIGN_OR_RETURN(float* h, s.h_bm.Get<float>(ops, nd));
  FEDREC_ASSIGN_OR_RETURN(float* dh, s.dh_bm.Get<float>(ops, nd));
  FEDREC_RETURN_IF_ERROR(ops.Gather(fin, d, bm_ids, rows, 1.0f, h));
  FEDREC_RETURN_IF_ERROR(ops.Zero(dh, nd));
  FEDREC_ASSIGN_OR_RETURN(
      std::vector<float> loss,
      head_->Run(h, table, d, B, T, targets, targets_bm, valid, batch.shared, dh, dtable));
  FEDREC_RETURN_IF_ERROR(ops.Gather(dh, d, tm_ids, rows, 1.0f, dfin));
  return loss;
}

absl::StatusOr<LossSum> Gru4RecDeviceProgram::LossAndGradients(const float* const* params,
                                                               float* const* grads,
                                                               const Gru4RecWindowBatch& batch,
                                                               const StepKey& key,
                                                               bool dropout_on) {
  LossSum result;
  if (batch.batch == 0) return result;
  TensorOps& ops = *ops_;
  FEDREC_RETURN_IF_ERROR(ops.BindToCallingThread());
  Scratch& s = *scratch_;
  const size_t B = batch.batch, T = batch.steps, d = o_.dim, rows = B * T, nd = rows * d;
  const size_t k = batch.negatives;
  const uint32_t L = o_.layers;
  const bool drop = dropout_on && o_.dropout > 0;
  const size_t out_index =
      o_.separate_output ? Gru4RecModel::GruTensor(L, 0) : Gru4RecModel::kItemEmb;
  const float* out_table = params[out_index];
  FEDREC_ASSIGN_OR_RETURN(const float* fin, Forward(params, batch, key, drop));

  // ---------------------------------------------------------------- loss
  FEDREC_ASSIGN_OR_RETURN(uint32_t * targets,
                          s.targets.Put<uint32_t>(ops, std::span<const uint32_t>(batch.targets)));
  FEDREC_ASSIGN_OR_RETURN(float* dfin, s.dfin.Get<float>(ops, nd));
  // The time-major rows' flags (0: padding), for BPR and the full softmax.
  auto upload_valid = [&]() -> absl::StatusOr<uint8_t*> {
    std::vector<uint8_t> valid_host(rows);
    for (size_t r = 0; r < rows; ++r) valid_host[r] = batch.inputs[r] != kNoItem;
    return s.valid.Put<uint8_t>(ops, std::span<const uint8_t>(valid_host));
  };
  // The batch's loss: per window in step order, windows in batch order (the
  // CPU trainer's sum), from per-row losses time- or batch-major.
  auto add_window_losses = [&](const std::vector<float>& loss_host, bool time_major) {
    for (size_t b = 0; b < B; ++b) {
      double window = 0;
      for (size_t t = batch.first[b]; t < T; ++t) {
        window += loss_host[time_major ? t * B + b : b * T + t];
      }
      result.loss += window;
    }
  };
  if (full_head_ != nullptr) {
    // Row by row: the time-major rows go in as they are.
    FEDREC_ASSIGN_OR_RETURN(uint8_t * valid, upload_valid());
    FEDREC_RETURN_IF_ERROR(ops.Zero(dfin, nd));
    FEDREC_ASSIGN_OR_RETURN(std::vector<float> loss_host,
                            full_head_->Run(fin, out_table, d, o_.num_items, rows, targets, valid,
                                            batch.excluded, dfin, grads[out_index]));
    add_window_losses(loss_host, /*time_major=*/true);
  } else if (head_ != nullptr) {
    FEDREC_ASSIGN_OR_RETURN(std::vector<float> loss_host,
                            SharedLoss(fin, out_table, batch, dfin, grads[out_index]));
    add_window_losses(loss_host, /*time_major=*/false);
  } else {
    FEDREC_ASSIGN_OR_RETURN(uint32_t * drawn,
                            s.drawn.Put<uint32_t>(ops, std::span<const uint32_t>(batch.drawn)));
    FEDREC_ASSIGN_OR_RETURN(uint8_t * valid, upload_valid());
    FEDREC_ASSIGN_OR_RETURN(float* pos, s.pos.Get<float>(ops, rows));
    FEDREC_ASSIGN_OR_RETURN(float* neg, s.neg.Get<float>(ops, k * rows));
    FEDREC_ASSIGN_OR_RETURN(float* loss, s.loss.Get<float>(ops, rows));
    FEDREC_ASSIGN_OR_RETURN(float* dpos, s.dpos.Get<float>(ops, rows));
    FEDREC_ASSIGN_OR_RETURN(float* dneg, s.dneg.Get<float>(ops, k * rows));
    FEDREC_RETURN_IF_ERROR(ops.GatheredRowDots(fin, out_table, d, targets, rows, pos));
    for (size_t j = 0; j < k; ++j) {
      FEDREC_RETURN_IF_ERROR(
          ops.GatheredRowDots(fin, out_table, d, drawn + j * rows, rows, neg + j * rows));
    }
    FEDREC_RETURN_IF_ERROR(ops.BprLoss(pos, neg, valid, rows, k, loss, dpos, dneg));
    std::vector<float> loss_host(rows);
    FEDREC_RETURN_IF_ERROR(ops.Download(loss_host.data(), loss, rows * sizeof(float)));
    add_window_losses(loss_host, /*time_major=*/true);

    // The scored rows: dfin = sum dlogit e_item (target first, then the
    // negatives in order, the CPU's order); d e_item += dlogit fin.
    FEDREC_RETURN_IF_ERROR(ops.Zero(dfin, nd));
    FEDREC_RETURN_IF_ERROR(ops.AddScaledRows(dpos, out_table, d, targets, rows, dfin));
    for (size_t j = 0; j < k; ++j) {
      FEDREC_RETURN_IF_ERROR(
          ops.AddScaledRows(dneg + j * rows, out_table, d, drawn + j * rows, rows, dfin));
    }
    FEDREC_ASSIGN_OR_RETURN(float* item_rows, s.item_rows.Get<float>(ops, (1 + k) * nd));
    FEDREC_RETURN_IF_ERROR(ops.ScaleRows(dpos, fin, rows, d, item_rows));
    for (size_t j = 0; j < k; ++j) {
      FEDREC_RETURN_IF_ERROR(
          ops.ScaleRows(dneg + j * rows, fin, rows, d, item_rows + (1 + j) * nd));
    }
    std::vector<uint32_t> scored(batch.targets);
    scored.insert(scored.end(), batch.drawn.begin(), batch.drawn.end());
    FEDREC_RETURN_IF_ERROR(Scatter(scored, item_rows, grads[out_index]));
  }
  result.examples = batch.examples;

  // Back through the output dropout and the layers (each layer's input
  // mask on the way out of it), into the input rows.
  if (drop) {
    FEDREC_ASSIGN_OR_RETURN(float* mask, s.masks[L].Get<float>(ops, nd));
    FEDREC_RETURN_IF_ERROR(ops.Multiply(dfin, mask, nd, dfin));
  }
  FEDREC_ASSIGN_OR_RETURN(float* dx, s.dx.Get<float>(ops, nd));
  float* dcur = dfin;
  float* dnext = dx;
  for (uint32_t l = L; l-- > 0;) {
    const GruDeviceGradients g{
        grads[Gru4RecModel::GruTensor(l, 0)], grads[Gru4RecModel::GruTensor(l, 1)],
        grads[Gru4RecModel::GruTensor(l, 2)], grads[Gru4RecModel::GruTensor(l, 3)]};
    FEDREC_RETURN_IF_ERROR(s.layers[l]->Backward(dcur, g, dnext));
    if (drop) {
      FEDREC_ASSIGN_OR_RETURN(float* mask, s.masks[l].Get<float>(ops, nd));
      FEDREC_RETURN_IF_ERROR(ops.Multiply(dnext, mask, nd, dnext));
    }
    std::swap(dcur, dnext);
  }
  FEDREC_RETURN_IF_ERROR(Scatter(batch.inputs, dcur, grads[Gru4RecModel::kItemEmb]));
  return result;
}

}  // namespace fedrec::kernels
