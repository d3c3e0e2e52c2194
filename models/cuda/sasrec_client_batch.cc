#include "models/cuda/sasrec_client_batch.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "core/random.h"
#include "models/cuda/layer_kernels.h"
#include "models/sasrec_impl.h"

namespace fedrec::kernels {
namespace {

// A buffer in the ops' memory that grows to the largest size asked for.
class GrowingBuffer {
 public:
  absl::StatusOr<void*> Reserve(TensorOps& ops, size_t bytes) {
    if (buffer_ == nullptr || bytes > bytes_) {
      FEDREC_ASSIGN_OR_RETURN(buffer_, ops.Allocate(std::max<size_t>(bytes, 16)));
      bytes_ = bytes;
    }
    return buffer_->data();
  }
  template <typename T>
  absl::StatusOr<T*> Put(TensorOps& ops, std::span<const T> host) {
    FEDREC_ASSIGN_OR_RETURN(void* p, Reserve(ops, host.size_bytes()));
    FEDREC_RETURN_IF_ERROR(ops.Upload(p, host.data(), host.size_bytes()));
    return static_cast<T*>(p);
  }

 private:
  std::unique_ptr<OpsBuffer> buffer_;
  size_t bytes_ = 0;
};

// Zeroes n 64-bit words (TensorOps zeroes floats: the same bytes).
absl::Status ZeroWords(TensorOps& ops, uint64_t* words, size_t n) {
  return ops.Zero(reinterpret_cast<float*>(words), 2 * n);
}

}  // namespace

struct SasRecClientBatch::DeviceState {
  std::unique_ptr<OpsBuffer> params, sum;
  std::vector<const float*> param_ptrs;
  // grads: a step's gradients, then the deltas; local: the clients'
  // parameters; start: their values before the first step.
  GrowingBuffer grads, local, start, ids, bounds, scales, norms, runs, factors, streams;
  // The dense tensors' place in a window's block.
  std::vector<size_t> dense_offset;
  size_t dense_size = 0;
  // The last step, for Encode.
  float* grad_base = nullptr;
  std::vector<EncodeRun> run_list;
  std::vector<uint32_t> window_of;  // client i -> its window, or kNoItem
  std::vector<uint32_t> users;      // per window
  std::vector<uint64_t> examples;   // per window
};

absl::StatusOr<std::unique_ptr<SasRecClientBatch>> SasRecClientBatch::Create(
    const SasRecOptions& o, const ParameterStore& layout, std::unique_ptr<TensorOps> ops,
    const ClientBatchOptions& options) {
  if (options.windows_per_step == 0 || options.local_epochs == 0) {
    return absl::InvalidArgumentError(
        "client batch: windows_per_step and local_epochs must be positive");
  }
  std::unique_ptr<SasRecClientBatch> b(new SasRecClientBatch());
  b->o_ = o;
  b->options_ = options;
  b->layout_ = layout.layout();
  b->ops_ = std::move(ops);
  FEDREC_ASSIGN_OR_RETURN(b->program_, SasRecDeviceProgram::Create(o, b->ops_.get()));
  b->state_ = std::make_unique<DeviceState>();
  DeviceState& s = *b->state_;
  const size_t scored = sasrec_internal::ScoredTable(o);
  for (size_t k = 0; k < b->layout_.size(); ++k) {
    const bool table = k == sasrec_internal::kItemEmb || k == scored;
    s.dense_offset.push_back(table ? 0 : s.dense_size);
    if (!table) s.dense_size += b->layout_[k].size();
  }
  FEDREC_ASSIGN_OR_RETURN(s.params, b->ops_->Allocate(layout.size() * sizeof(float)));
  FEDREC_ASSIGN_OR_RETURN(s.sum, b->ops_->Allocate(layout.size() * sizeof(uint64_t)));
  for (const TensorLayout& t : b->layout_) {
    s.param_ptrs.push_back(s.params->as<float>() + t.offset);
  }
  return b;
}

SasRecClientBatch::~SasRecClientBatch() = default;

absl::Status SasRecClientBatch::BeginRound(const ParameterStore& global, uint32_t round) {
  if (global.layout() != layout_) {
    return absl::InvalidArgumentError("client batch: the global parameters have another layout");
  }
  FEDREC_RETURN_IF_ERROR(ops_->BindToCallingThread());
  round_ = round;
  const auto flat = global.Flat();
  FEDREC_RETURN_IF_ERROR(ops_->Upload(state_->params->data(), flat.data(), flat.size_bytes()));
  return ZeroWords(*ops_, state_->sum->as<uint64_t>(), flat.size());
}

absl::StatusOr<std::vector<ClientStepResult>> SasRecClientBatch::Train(
    std::span<const UserSequence> clients) {
  const size_t W = options_.windows_per_step;
  if (clients.size() > W) {
    return absl::InvalidArgumentError("client batch: more clients than windows_per_step");
  }
  FEDREC_RETURN_IF_ERROR(ops_->BindToCallingThread());
  DeviceState& s = *state_;
  TensorOps& ops = *ops_;
  // Every local step's windows (the same inputs and targets, each step's
  // own negatives and dropout), padded to W windows of max_len rows.
  const size_t E = options_.local_epochs;
  std::vector<StepKey> keys;
  std::vector<SasRecWindowBatch> steps;
  for (size_t e = 0; e < E; ++e) {
    keys.push_back({.seed = options_.seed, .epoch = round_, .step = static_cast<uint32_t>(e)});
    steps.push_back(SasRecWindowBatch::Pack(o_, clients, keys.back(), o_.max_len));
  }
  const size_t real = steps[0].batch;
  for (SasRecWindowBatch& b : steps) b.AddEmptyWindows(W - real);
  const size_t T = steps[0].len, d = o_.dim, cells = W * T;
  std::vector<ClientStepResult> results(clients.size());
  s.window_of.assign(clients.size(), kNoItem);
  for (size_t i = 0, w = 0; i < clients.size(); ++i) {
    results[i].user = clients[i].user;
    if (clients[i].items.size() >= 2) s.window_of[i] = static_cast<uint32_t>(w++);
  }

  // Each window's rows, numbered window by window: the item table's rows,
  // then (separate output) the output table's, items ascending; every
  // step's negatives included.
  const size_t scored = sasrec_internal::ScoredTable(o_);
  const bool shared = scored == sasrec_internal::kItemEmb;
  struct TouchedRow {
    uint32_t table, item;
  };
  std::vector<TouchedRow> rows;
  std::vector<uint64_t> row_begin(W + 1, 0);
  std::vector<std::vector<uint32_t>> input_rows(E, std::vector<uint32_t>(cells, kNoItem));
  std::vector<std::vector<uint32_t>> scored_rows(E, std::vector<uint32_t>(2 * cells, kNoItem));
  std::vector<uint32_t> items, out_items;
  auto number = [](const std::vector<uint32_t>& sorted, uint32_t base, uint32_t item) {
    return base + static_cast<uint32_t>(std::lower_bound(sorted.begin(), sorted.end(), item) -
                                        sorted.begin());
  };
  for (size_t b = 0; b < W; ++b) {
    row_begin[b] = rows.size();
    items.clear();
    out_items.clear();
    for (const SasRecWindowBatch& step : steps) {
      for (size_t t = b * T; t < (b + 1) * T; ++t) {
        if (step.inputs[t] == kNoItem) continue;
        items.push_back(step.inputs[t]);
        std::vector<uint32_t>& scored_items = shared ? items : out_items;
        scored_items.push_back(step.targets[t]);
        scored_items.push_back(step.negatives[t]);
      }
    }
    for (auto* v : {&items, &out_items}) {
      std::sort(v->begin(), v->end());
      v->erase(std::unique(v->begin(), v->end()), v->end());
    }
    const auto item_base = static_cast<uint32_t>(rows.size());
    for (uint32_t it : items) {
      rows.push_back({static_cast<uint32_t>(sasrec_internal::kItemEmb), it});
    }
    const auto out_base = static_cast<uint32_t>(rows.size());
    for (uint32_t it : out_items) rows.push_back({static_cast<uint32_t>(scored), it});
    const std::vector<uint32_t>& scored_sorted = shared ? items : out_items;
    const uint32_t scored_base = shared ? item_base : out_base;
    for (size_t e = 0; e < E; ++e) {
      const SasRecWindowBatch& step = steps[e];
      for (size_t t = b * T; t < (b + 1) * T; ++t) {
        if (step.inputs[t] == kNoItem) continue;
        input_rows[e][t] = number(items, item_base, step.inputs[t]);
        scored_rows[e][t] = number(scored_sorted, scored_base, step.targets[t]);
        scored_rows[e][cells + t] = number(scored_sorted, scored_base, step.negatives[t]);
      }
    }
  }
  row_begin[W] = rows.size();

  // Three buffers of one layout (W dense blocks, then the rows): the
  // clients' parameters, their starting values, the gradients.
  const size_t rows_offset = W * s.dense_size;
  const size_t floats = rows_offset + rows.size() * d;
  FEDREC_ASSIGN_OR_RETURN(void* g, s.grads.Reserve(ops, floats * sizeof(float)));
  FEDREC_ASSIGN_OR_RETURN(void* p, s.local.Reserve(ops, floats * sizeof(float)));
  FEDREC_ASSIGN_OR_RETURN(void* p0, s.start.Reserve(ops, floats * sizeof(float)));
  s.grad_base = static_cast<float*>(g);
  auto* local = static_cast<float*>(p);
  auto* start = static_cast<float*>(p0);
  // Every window starts from the global dense tensors and its rows of the
  // global tables.
  FEDREC_RETURN_IF_ERROR(ops.Zero(local, floats));
  for (size_t k = 0; k < layout_.size(); ++k) {
    if (k == sasrec_internal::kItemEmb || k == scored) continue;
    FEDREC_RETURN_IF_ERROR(ops.AddStrided(s.param_ptrs[k], 0, local + s.dense_offset[k],
                                          s.dense_size, layout_[k].size(), W));
  }
  std::vector<uint32_t> table_ids(rows.size());
  const std::vector<size_t> tables =
      shared ? std::vector<size_t>{scored} : std::vector<size_t>{sasrec_internal::kItemEmb, scored};
  for (size_t t : tables) {
    for (size_t r = 0; r < rows.size(); ++r)
      table_ids[r] = rows[r].table == t ? rows[r].item : kNoItem;
    FEDREC_ASSIGN_OR_RETURN(uint32_t * ids,
                            s.ids.Put<uint32_t>(ops, std::span<const uint32_t>(table_ids)));
    FEDREC_RETURN_IF_ERROR(
        ops.Gather(s.param_ptrs[t], d, ids, rows.size(), 1.0f, s.grad_base + rows_offset));
    FEDREC_RETURN_IF_ERROR(ops.Add(local + rows_offset, s.grad_base + rows_offset, rows.size() * d,
                                   local + rows_offset));
  }
  FEDREC_RETURN_IF_ERROR(ops.Copy(local, floats, start));

  // Two segments per real window (dense block, rows), for the SGD steps and
  // the norms.
  std::vector<uint64_t> bounds;
  std::vector<float> inv;
  s.examples.assign(real, 0);
  for (size_t b = 0; b < real; ++b) {
    s.examples[b] = T - steps[0].first[b];
    bounds.insert(bounds.end(),
                  {b * s.dense_size, (b + 1) * s.dense_size, rows_offset + row_begin[b] * d,
                   rows_offset + row_begin[b + 1] * d});
    // The mean over the step's examples, folded into the update.
    const float mean = 1.0f / static_cast<float>(s.examples[b]);
    inv.insert(inv.end(), {mean, mean});
  }
  FEDREC_ASSIGN_OR_RETURN(uint64_t * bounds_dev,
                          s.bounds.Put<uint64_t>(ops, std::span<const uint64_t>(bounds)));
  FEDREC_ASSIGN_OR_RETURN(float* inv_dev, s.scales.Put<float>(ops, std::span<const float>(inv)));

  // The local steps: the first from the shared global parameters (one
  // forward for every client), the later ones from each client's own.
  std::vector<float> window_loss;
  for (size_t e = 0; e < E; ++e) {
    PerWindowSlots slots;
    slots.dense_stride = s.dense_size;
    slots.dense_offset = s.dense_offset;
    slots.rows_offset = rows_offset;
    slots.input_rows = std::move(input_rows[e]);
    slots.scored_rows = std::move(scored_rows[e]);
    slots.grads = s.grad_base;
    slots.params = e == 0 ? nullptr : local;
    FEDREC_RETURN_IF_ERROR(ops.Zero(s.grad_base, floats));
    FEDREC_RETURN_IF_ERROR(program_
                               ->LossAndWindowGradients(s.param_ptrs.data(), slots, steps[e],
                                                        keys[e], /*dropout_on=*/true, &window_loss)
                               .status());
    FEDREC_RETURN_IF_ERROR(ops.SgdSegments(s.grad_base, bounds_dev, inv_dev, 2 * real,
                                           static_cast<float>(options_.local_lr), local));
  }
  // The deltas (local - start), in the gradients' place; their norms.
  FEDREC_RETURN_IF_ERROR(ops.Subtract(local, start, floats, s.grad_base));
  FEDREC_ASSIGN_OR_RETURN(void* norms_p, s.norms.Reserve(ops, 2 * real * sizeof(double)));
  FEDREC_RETURN_IF_ERROR(
      ops.SegmentSquaredNorms(s.grad_base, bounds_dev, 2 * real, static_cast<double*>(norms_p)));
  std::vector<double> norms(2 * real);
  FEDREC_RETURN_IF_ERROR(ops.Download(norms.data(), norms_p, norms.size() * sizeof(double)));

  s.users.assign(steps[0].users.begin(), steps[0].users.begin() + static_cast<ptrdiff_t>(real));
  for (size_t i = 0; i < clients.size(); ++i) {
    const uint32_t w = s.window_of[i];
    if (w == kNoItem) continue;
    results[i].loss = {.loss = window_loss[w], .examples = s.examples[w]};
    results[i].update_norm = std::sqrt(norms[2 * w] + norms[2 * w + 1]);
  }

  // The runs Encode adds: per window its dense tensors, then its rows.
  s.run_list.clear();
  for (size_t b = 0; b < real; ++b) {
    for (size_t k = 0; k < layout_.size(); ++k) {
      if (k == sasrec_internal::kItemEmb || k == scored) continue;
      s.run_list.push_back({.src = b * s.dense_size + s.dense_offset[k],
                            .dst = layout_[k].offset,
                            .len = static_cast<uint32_t>(layout_[k].size()),
                            .client = static_cast<uint32_t>(b)});
    }
    for (uint64_t r = row_begin[b]; r < row_begin[b + 1]; ++r) {
      s.run_list.push_back({.src = rows_offset + r * d,
                            .dst = layout_[rows[r].table].offset + size_t{rows[r].item} * d,
                            .len = static_cast<uint32_t>(d),
                            .client = static_cast<uint32_t>(b)});
    }
  }
  return results;
}

absl::Status SasRecClientBatch::Encode(std::span<const double> factors, double scale,
                                       double limit) {
  DeviceState& s = *state_;
  if (factors.size() != s.window_of.size()) {
    return absl::InvalidArgumentError("client batch: one factor per client of the last step");
  }
  FEDREC_RETURN_IF_ERROR(ops_->BindToCallingThread());
  const size_t real = s.users.size();
  std::vector<double> window_factor(real, 0.0);
  for (size_t i = 0; i < factors.size(); ++i) {
    const uint32_t w = s.window_of[i];
    if (w == kNoItem || !std::isfinite(factors[i])) continue;
    window_factor[w] = factors[i];
  }
  std::vector<PhiloxStream> streams(real);
  const uint64_t purpose = Fnv1a64("encode");
  for (size_t w = 0; w < real; ++w) {
    streams[w] = MakePhiloxStream(options_.seed, purpose, round_, s.users[w], 0);
  }
  FEDREC_ASSIGN_OR_RETURN(EncodeRun * runs,
                          s.runs.Put<EncodeRun>(*ops_, std::span<const EncodeRun>(s.run_list)));
  FEDREC_ASSIGN_OR_RETURN(double* f,
                          s.factors.Put<double>(*ops_, std::span<const double>(window_factor)));
  FEDREC_ASSIGN_OR_RETURN(PhiloxStream * st, s.streams.Put<PhiloxStream>(
                                                 *ops_, std::span<const PhiloxStream>(streams)));
  return ops_->EncodeAddRuns(s.grad_base, runs, s.run_list.size(), f, st, scale, limit,
                             s.sum->as<uint64_t>());
}

absl::Status SasRecClientBatch::AddSumInto(std::span<uint64_t> acc) {
  size_t n = 0;
  for (const TensorLayout& t : layout_) n = std::max(n, t.offset + t.size());
  if (acc.size() != n) return absl::InvalidArgumentError("client batch: the sum has another size");
  FEDREC_RETURN_IF_ERROR(ops_->BindToCallingThread());
  std::vector<uint64_t> host(n);
  FEDREC_RETURN_IF_ERROR(ops_->Download(host.data(), state_->sum->data(), n * sizeof(uint64_t)));
  for (size_t i = 0; i < n; ++i) acc[i] += host[i];
  return ZeroWords(*ops_, state_->sum->as<uint64_t>(), n);
}

}  // namespace fedrec::kernels
