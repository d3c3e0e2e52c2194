#include "worker/client_trainer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/random.h"
#include "core/timing.h"
#include "models/factory.h"

namespace fedrec {

absl::StatusOr<std::unique_ptr<ClientTrainer>> ClientTrainer::Create(
    const proto::ModelSpec& spec, const ClientTrainingOptions& o,
    std::shared_ptr<const ItemFeatures> features) {
  std::unique_ptr<ClientTrainer> t(new ClientTrainer());
  t->options_ = o;
  FEDREC_ASSIGN_OR_RETURN(t->model_, CreateModel(spec, "cpu", std::move(features)));
  t->workspace_ = t->model_->NewWorkspace();
  t->grads_ = t->model_->NewGlobalGradients();
  t->delta_ = t->model_->NewGlobalGradients();
  if (t->model_->local_params() != nullptr) t->local_grads_ = t->model_->NewLocalGradients();
  FEDREC_ASSIGN_OR_RETURN(t->noise_urbg_, privacy::AesCtrUrbg::Create());
  return t;
}

namespace {

// The client's elementwise passes over parameters, gradients and deltas.
// Restrict-qualified so that they vectorise: each element gets the same
// operations, in the same order, as in a scalar loop, so the results are
// bitwise those of the scalar loop.

// p[i] -= lr * (g[i] * scale)
void SgdRange(float* __restrict p, const float* __restrict g, size_t n, float lr, float scale) {
  for (size_t i = 0; i < n; ++i) p[i] -= lr * (g[i] * scale);
}

// d[i] = w[i] - g[i]
void DifferenceRange(float* __restrict d, const float* __restrict w, const float* __restrict g,
                     size_t n) {
  for (size_t i = 0; i < n; ++i) d[i] = w[i] - g[i];
}

// out[i] = factor * d[i], in double
void ScaledRange(double* __restrict out, const float* __restrict d, size_t n, double factor) {
  for (size_t i = 0; i < n; ++i) out[i] = factor * d[i];
}

}  // namespace

ClipDecision ClipAndWeigh(double update_norm, uint64_t examples, double clip_norm,
                          const ClientTrainingOptions& o) {
  ClipDecision c;
  // A diverged client (inf/NaN in its delta) contributes nothing: encoding it
  // would put garbage into everyone's sum.
  if (!std::isfinite(update_norm)) {
    c.clipped = true;
    c.factor = 0;
  } else if (update_norm > clip_norm) {
    c.factor = clip_norm / update_norm;
    c.clipped = true;
  }
  if (o.weight_by_examples) {
    c.weight = static_cast<double>(std::min<uint64_t>(examples, o.weight_cap)) /
               static_cast<double>(o.weight_cap);
    c.factor *= c.weight;
  }
  return c;
}

uint64_t DdgRotationSeed(uint64_t seed, uint32_t round) {
  return RandomStream({.seed = seed, .purpose = "ddg_rotation", .round = round}).NextU64();
}

void ClientTrainer::SetGlobal(const ParameterStore& global) {
  auto dst = model_->global_params().Flat();
  auto src = global.Flat();
  std::memcpy(dst.data(), src.data(), src.size_bytes());
}

// params -= lr * grads on every valid entry of grads; with `track`, the rows
// touched are recorded in delta_ (the client's union of touched rows).
void ClientTrainer::SgdStep(const Gradients& grads, float lr, float scale, ParameterStore* params,
                            bool track) {
  for (size_t k = 0; k < params->num_tensors(); ++k) {
    TensorView p = params->ViewAt(k);
    const ConstTensorView g = grads.values().ViewAt(k);
    if (grads.IsSparse(k)) {
      for (uint32_t r : grads.TouchedRows(k)) {
        if (track) delta_.MarkRow(k, r);
        SgdRange(p.data + static_cast<size_t>(r) * p.cols, g.data + static_cast<size_t>(r) * g.cols,
                 p.cols, lr, scale);
      }
    } else {
      SgdRange(p.data, g.data, p.size(), lr, scale);
    }
  }
}

void ClientTrainer::RestoreTouched(const ParameterStore& global) {
  ParameterStore& work = model_->global_params();
  for (size_t k = 0; k < work.num_tensors(); ++k) {
    TensorView w = work.ViewAt(k);
    const ConstTensorView g = global.ViewAt(k);
    if (delta_.IsSparse(k)) {
      for (uint32_t r : delta_.TouchedRows(k)) {
        std::memcpy(w.data + static_cast<size_t>(r) * w.cols,
                    g.data + static_cast<size_t>(r) * g.cols, w.cols * sizeof(float));
      }
    } else {
      std::memcpy(w.data, g.data, w.size() * sizeof(float));
    }
  }
  delta_.Clear();
}

ClientOutcome ClientTrainer::TrainAndEncode(const UserSequence& user, uint32_t round,
                                            const ParameterStore& global, ParameterStore* local,
                                            const RoundEncoding& encoding,
                                            std::span<uint64_t> accumulator) {
  ClientOutcome out;
  Stopwatch sw;
  ParameterStore& work = model_->global_params();
  ParameterStore* model_local = model_->local_params();
  // The user's local row moves into this thread's model for the duration.
  if (model_local != nullptr && local != nullptr) {
    for (size_t k = 0; k < local->num_tensors(); ++k) {
      auto src = local->ViewAt(k).Row(user.user);
      std::memcpy(model_local->ViewAt(k).Row(user.user).data(), src.data(), src.size_bytes());
    }
  }
  const float lr = static_cast<float>(options_.local_lr);
  for (int64_t e = 0; e < options_.local_epochs; ++e) {
    grads_.Clear();
    if (model_local != nullptr) local_grads_.Clear();
    const StepKey key{.seed = options_.seed, .epoch = round, .step = static_cast<uint32_t>(e)};
    out.loss =
        model_->ForwardBackward(std::span<const UserSequence>(&user, 1), key, workspace_.get(),
                                &grads_, model_local != nullptr ? &local_grads_ : nullptr);
    if (out.loss.examples == 0) break;
    // The mean over the step's examples, folded into the update.
    const float inv = 1.0f / static_cast<float>(out.loss.examples);
    SgdStep(grads_, lr, inv, &work, /*track=*/true);
    if (model_local != nullptr) SgdStep(local_grads_, lr, inv, model_local, /*track=*/false);
  }
  if (model_local != nullptr && local != nullptr) {
    for (size_t k = 0; k < local->num_tensors(); ++k) {
      auto src = model_local->ViewAt(k).Row(user.user);
      std::memcpy(local->ViewAt(k).Row(user.user).data(), src.data(), src.size_bytes());
    }
  }
  // delta = work - global on the touched rows and dense tensors.
  for (size_t k = 0; k < work.num_tensors(); ++k) {
    TensorView d = delta_.View(k);
    const ConstTensorView w = std::as_const(work).ViewAt(k);
    const ConstTensorView g = global.ViewAt(k);
    if (delta_.IsSparse(k)) {
      for (uint32_t r : delta_.TouchedRows(k)) {
        const size_t base = static_cast<size_t>(r) * d.cols;
        DifferenceRange(d.data + base, w.data + base, g.data + base, d.cols);
      }
    } else {
      DifferenceRange(d.data, w.data, g.data, d.size());
    }
  }
  out.seconds_train = sw.ElapsedSeconds();
  Stopwatch esw;

  out.update_norm = std::sqrt(delta_.SquaredNorm());
  const ClipDecision clip = ClipAndWeigh(out.update_norm, out.loss.examples,
                                         encoding.clip_norm.value_or(options_.clip_norm), options_);
  out.clipped = clip.clipped;
  out.weight = clip.weight;
  const bool diverged = !std::isfinite(out.update_norm);
  const double factor = clip.factor;
  if (encoding.ddg != nullptr) {
    // A diverged client still adds its noise share (with a zero update): the
    // release counts on every uploading client's noise.
    out.status = EncodeDistributed(user, round, diverged ? 0.0 : factor, encoding, accumulator);
    RestoreTouched(global);
    out.seconds_encode = esw.ElapsedSeconds();
    return out;
  }
  const FixedPointCodec& codec = *encoding.codec;
  // Encode in layout order, sparse rows ascending: the rounding stream's
  // draws are a function of the client alone.
  FastStream rng({.seed = options_.seed, .purpose = "encode", .round = round, .client = user.user});
  const auto& layout = work.layout();
  for (size_t k = 0; k < work.num_tensors() && !diverged; ++k) {
    const ConstTensorView d = std::as_const(delta_).values().ViewAt(k);
    uint64_t* acc = accumulator.data() + layout[k].offset;
    auto encode_range = [&](size_t begin, size_t end) {
      codec.EncodeAdd(d.data + begin, end - begin, factor, rng, acc + begin);
    };
    if (delta_.IsSparse(k)) {
      sorted_rows_.assign(delta_.TouchedRows(k).begin(), delta_.TouchedRows(k).end());
      std::sort(sorted_rows_.begin(), sorted_rows_.end());
      for (uint32_t r : sorted_rows_) {
        encode_range(static_cast<size_t>(r) * d.cols, static_cast<size_t>(r + 1) * d.cols);
      }
    } else {
      encode_range(0, d.size());
    }
  }
  RestoreTouched(global);
  out.seconds_encode = esw.ElapsedSeconds();
  return out;
}

absl::Status ClientTrainer::EncodeDistributed(const UserSequence& user, uint32_t round,
                                              double factor, const RoundEncoding& encoding,
                                              std::span<uint64_t> accumulator) {
  const ParameterStore& work = model_->global_params();
  dense_.assign(work.size(), 0.0);
  const auto& layout = work.layout();
  // factor 0 (a diverged client): a zero update, without touching its NaNs.
  for (size_t k = 0; k < work.num_tensors() && factor != 0; ++k) {
    const ConstTensorView d = std::as_const(delta_).values().ViewAt(k);
    double* out = dense_.data() + layout[k].offset;
    if (delta_.IsSparse(k)) {
      for (uint32_t r : delta_.TouchedRows(k)) {
        const size_t base = static_cast<size_t>(r) * d.cols;
        ScaledRange(out + base, d.data + base, d.cols, factor);
      }
    } else {
      ScaledRange(out, d.data, d.size(), factor);
    }
  }
  return EncodeDistributedUpdate(dense_, user.user, round, encoding, options_.noise_seed,
                                 *noise_urbg_, accumulator);
}

absl::Status EncodeDistributedUpdate(std::span<const double> update, uint32_t user, uint32_t round,
                                     const RoundEncoding& encoding,
                                     const std::optional<uint64_t>& noise_seed,
                                     privacy::AesCtrUrbg& urbg, std::span<uint64_t> accumulator) {
  const privacy::DdgMechanism& ddg = *encoding.ddg;
  absl::StatusOr<std::vector<uint64_t>> words;
  if (noise_seed) {
    // Pinned (flagged, not private): the AES key is a function of the
    // client's Philox stream, so the client's words are reproducible.
    absl::StatusOr<privacy::AesCtrUrbg> g = privacy::AesCtrUrbg::FromPinnedStream(
        {.seed = *noise_seed, .purpose = "ddg", .round = round, .client = user});
    if (!g.ok()) return g.status();
    words = ddg.Encode(update, encoding.ddg_rotation_seed, *g);
  } else {
    words = ddg.Encode(update, encoding.ddg_rotation_seed, urbg);
  }
  if (!words.ok()) {
    return WithContext(words.status(), "client " + std::to_string(user));
  }
  if (accumulator.size() != words->size()) {
    return absl::InternalError("distributed DP: accumulator is not the padded dimension");
  }
  privacy::DdgAccumulate(accumulator, *words, ddg.params().bits);
  return absl::OkStatus();
}

}  // namespace fedrec
