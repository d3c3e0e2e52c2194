#include "models/cuda/sasrec_client_batch.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "core/random.h"
#include "models/cuda/client_step_plan.h"
#include "models/cuda/growing_buffer.h"
#include "models/cuda/layer_kernels.h"

namespace fedrec::kernels {
namespace {

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
  GrowingBuffer grads, local, start, ids, bounds, scales, norms, runs, factors, streams, each;
  WindowBlockLayout block;
  float* grad_base = nullptr;
  ClientStepPlan plan;  // the last Train's, for Encode
};

absl::StatusOr<std::unique_ptr<SasRecClientBatch>> SasRecClientBatch::Create(
    const SasRecOptions& o, const ParameterStore& layout, std::unique_ptr<TensorOps> ops,
    const ClientBatchOptions& options) {
  if (options.windows_per_step == 0 || options.local_epochs == 0) {
    return absl::InvalidArgumentError(
        "client batch: windows_per_step and local_epochs must be positive");
  }
  if (o.loss != SasRecLoss::kBce) {
    return absl::InvalidArgumentError(
        "client batch: GPU clients train the paper's BCE loss only so far (train.loss = bce)");
  }
  std::unique_ptr<SasRecClientBatch> b(new SasRecClientBatch());
  b->o_ = o;
  b->options_ = options;
  b->layout_ = layout.layout();
  b->flat_size_ = layout.size();
  b->ops_ = std::move(ops);
  FEDREC_ASSIGN_OR_RETURN(b->program_, SasRecDeviceProgram::Create(o, b->ops_.get()));
  b->state_ = std::make_unique<DeviceState>();
  DeviceState& s = *b->state_;
  s.block = WindowBlockLayout::For(o, b->layout_);
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
  const size_t E = options_.local_epochs, d = o_.dim;
  s.plan = ClientStepPlan::Make(o_, layout_, s.block, clients, options_.seed, round_, E, W);
  ClientStepPlan& plan = s.plan;
  const size_t real = plan.real, floats = plan.floats, rows = plan.rows.size();

  // Three buffers of the plan's layout: the gradients (then the deltas),
  // the clients' parameters and their starting values.
  FEDREC_ASSIGN_OR_RETURN(void* g, s.grads.Reserve(ops, floats * sizeof(float)));
  FEDREC_ASSIGN_OR_RETURN(void* p, s.local.Reserve(ops, floats * sizeof(float)));
  FEDREC_ASSIGN_OR_RETURN(void* p0, s.start.Reserve(ops, floats * sizeof(float)));
  s.grad_base = static_cast<float*>(g);
  auto* local = static_cast<float*>(p);
  auto* start = static_cast<float*>(p0);
  float* grad_rows = s.grad_base + plan.rows_offset;
  float* local_rows = local + plan.rows_offset;
  // Every window starts from the global dense tensors and its rows of the
  // global tables.
  FEDREC_RETURN_IF_ERROR(ops.Zero(local, floats));
  for (size_t k = 0; k < layout_.size(); ++k) {
    if (s.block.is_table[k]) continue;
    FEDREC_RETURN_IF_ERROR(ops.AddStrided(s.param_ptrs[k], 0, local + s.block.dense_offset[k],
                                          s.block.dense_size, layout_[k].size(), W));
  }
  std::vector<uint32_t> table_ids(rows);
  for (size_t t = 0; t < layout_.size(); ++t) {
    if (!s.block.is_table[t]) continue;
    for (size_t r = 0; r < rows; ++r) {
      table_ids[r] = plan.rows[r].table == t ? plan.rows[r].item : kNoItem;
    }
    FEDREC_ASSIGN_OR_RETURN(uint32_t * ids,
                            s.ids.Put<uint32_t>(ops, std::span<const uint32_t>(table_ids)));
    FEDREC_RETURN_IF_ERROR(ops.Gather(s.param_ptrs[t], d, ids, rows, 1.0f, grad_rows));
    FEDREC_RETURN_IF_ERROR(ops.Add(local_rows, grad_rows, rows * d, local_rows));
  }
  FEDREC_RETURN_IF_ERROR(ops.Copy(local, floats, start));
  FEDREC_ASSIGN_OR_RETURN(uint64_t * bounds,
                          s.bounds.Put<uint64_t>(ops, std::span<const uint64_t>(plan.bounds)));
  FEDREC_ASSIGN_OR_RETURN(float* inv, s.scales.Put<float>(ops, std::span<const float>(plan.inv)));

  // The local epochs: the first from the shared global parameters (one
  // forward for every client), the later ones from each client's own.
  std::vector<float> window_loss;
  for (size_t e = 0; e < E; ++e) {
    PerWindowSlots slots;
    slots.dense_stride = s.block.dense_size;
    slots.dense_offset = s.block.dense_offset;
    slots.rows_offset = plan.rows_offset;
    slots.input_rows = std::move(plan.input_rows[e]);
    slots.scored_rows = std::move(plan.scored_rows[e]);
    slots.grads = s.grad_base;
    slots.params = e == 0 ? nullptr : local;
    FEDREC_RETURN_IF_ERROR(ops.Zero(s.grad_base, floats));
    FEDREC_RETURN_IF_ERROR(program_
                               ->LossAndWindowGradients(s.param_ptrs.data(), slots, plan.epochs[e],
                                                        plan.keys[e],
                                                        /*dropout_on=*/true, &window_loss)
                               .status());
    FEDREC_RETURN_IF_ERROR(ops.SgdSegments(s.grad_base, bounds, inv, 2 * real,
                                           static_cast<float>(options_.local_lr), local));
  }
  // The deltas (local - start), in the gradients' place; their norms.
  FEDREC_RETURN_IF_ERROR(ops.Subtract(local, start, floats, s.grad_base));
  FEDREC_ASSIGN_OR_RETURN(void* norms_p, s.norms.Reserve(ops, 2 * real * sizeof(double)));
  FEDREC_RETURN_IF_ERROR(
      ops.SegmentSquaredNorms(s.grad_base, bounds, 2 * real, static_cast<double*>(norms_p)));
  std::vector<double> norms(2 * real);
  FEDREC_RETURN_IF_ERROR(ops.Download(norms.data(), norms_p, norms.size() * sizeof(double)));

  std::vector<ClientStepResult> results(clients.size());
  for (size_t i = 0; i < clients.size(); ++i) {
    results[i].user = clients[i].user;
    const uint32_t w = plan.window_of[i];
    if (w == kNoItem) continue;
    results[i].loss = {.loss = window_loss[w], .examples = plan.examples[w]};
    results[i].update_norm = std::sqrt(norms[2 * w] + norms[2 * w + 1]);
  }
  return results;
}

absl::Status SasRecClientBatch::Encode(std::span<const double> factors, double scale,
                                       double limit) {
  return EncodeRunsInto(factors, scale, limit, state_->plan.runs, state_->sum->as<uint64_t>());
}

absl::Status SasRecClientBatch::EncodeEach(std::span<const double> factors, double scale,
                                           double limit,
                                           std::span<const std::span<uint64_t>> words) {
  DeviceState& s = *state_;
  const ClientStepPlan& plan = s.plan;
  if (words.size() != plan.window_of.size()) {
    return absl::InvalidArgumentError("client batch: one word vector per client of the last step");
  }
  // The same runs, packed one after another into a compact buffer.
  std::vector<EncodeRun> packed(plan.runs);
  uint64_t total = 0;
  for (EncodeRun& run : packed) {
    run.at = total;
    total += run.len;
  }
  FEDREC_ASSIGN_OR_RETURN(void* buffer, s.each.Reserve(*ops_, total * sizeof(uint64_t)));
  auto* compact = static_cast<uint64_t*>(buffer);
  FEDREC_RETURN_IF_ERROR(ops_->BindToCallingThread());
  FEDREC_RETURN_IF_ERROR(ZeroWords(*ops_, compact, total));
  FEDREC_RETURN_IF_ERROR(EncodeRunsInto(factors, scale, limit, packed, compact));
  std::vector<uint64_t> host(total);
  FEDREC_RETURN_IF_ERROR(ops_->Download(host.data(), compact, total * sizeof(uint64_t)));
  std::vector<uint32_t> client_of(plan.real, kNoItem);
  for (size_t i = 0; i < plan.window_of.size(); ++i) {
    if (plan.window_of[i] != kNoItem) client_of[plan.window_of[i]] = static_cast<uint32_t>(i);
  }
  for (const EncodeRun& run : packed) {
    uint64_t* out = words[client_of[run.client]].data() + run.dst;
    for (uint32_t j = 0; j < run.len; ++j) out[j] += host[run.at + j];
  }
  return absl::OkStatus();
}

absl::Status SasRecClientBatch::VisitScaledDeltas(std::span<const double> factors,
                                                  const DeltaVisitor& visit) {
  const ClientStepPlan& plan = state_->plan;
  if (factors.size() != plan.window_of.size()) {
    return absl::InvalidArgumentError("client batch: one factor per client of the last step");
  }
  FEDREC_RETURN_IF_ERROR(ops_->BindToCallingThread());
  std::vector<float> host(plan.floats);
  FEDREC_RETURN_IF_ERROR(
      ops_->Download(host.data(), state_->grad_base, plan.floats * sizeof(float)));
  // Window w's runs are plan.runs[first_run[w], first_run[w + 1]).
  std::vector<size_t> first_run(plan.real + 1, plan.runs.size());
  for (size_t r = plan.runs.size(); r-- > 0;) first_run[plan.runs[r].client] = r;
  for (size_t w = plan.real; w-- > 0;) first_run[w] = std::min(first_run[w], first_run[w + 1]);
  const size_t n = flat_size_;
  std::vector<double> delta(n, 0.0);
  for (size_t i = 0; i < plan.window_of.size(); ++i) {
    const uint32_t w = plan.window_of[i];
    const double f = factors[i];
    const bool writes = w != kNoItem && f != 0;
    const size_t begin = writes ? first_run[w] : 0, end = writes ? first_run[w + 1] : 0;
    for (size_t r = begin; r < end; ++r) {
      const EncodeRun& run = plan.runs[r];
      for (uint32_t j = 0; j < run.len; ++j) delta[run.dst + j] = f * host[run.src + j];
    }
    FEDREC_RETURN_IF_ERROR(visit(i, delta));
    // Back to zero where this client wrote: the next starts clean.
    for (size_t r = begin; r < end; ++r) {
      const EncodeRun& run = plan.runs[r];
      std::fill_n(delta.data() + run.dst, run.len, 0.0);
    }
  }
  return absl::OkStatus();
}

absl::Status SasRecClientBatch::EncodeRunsInto(std::span<const double> factors, double scale,
                                               double limit,
                                               const std::vector<EncodeRun>& runs_host,
                                               uint64_t* acc) {
  DeviceState& s = *state_;
  const ClientStepPlan& plan = s.plan;
  if (factors.size() != plan.window_of.size()) {
    return absl::InvalidArgumentError("client batch: one factor per client of the last step");
  }
  FEDREC_RETURN_IF_ERROR(ops_->BindToCallingThread());
  const size_t real = plan.real;
  std::vector<double> window_factor(real, 0.0);
  for (size_t i = 0; i < factors.size(); ++i) {
    const uint32_t w = plan.window_of[i];
    if (w == kNoItem || !std::isfinite(factors[i])) continue;
    window_factor[w] = factors[i];
  }
  std::vector<PhiloxStream> streams(real);
  const uint64_t purpose = Fnv1a64("encode");
  for (size_t w = 0; w < real; ++w) {
    streams[w] = MakePhiloxStream(options_.seed, purpose, round_, plan.users[w], 0);
  }
  FEDREC_ASSIGN_OR_RETURN(EncodeRun * runs,
                          s.runs.Put<EncodeRun>(*ops_, std::span<const EncodeRun>(runs_host)));
  FEDREC_ASSIGN_OR_RETURN(double* f,
                          s.factors.Put<double>(*ops_, std::span<const double>(window_factor)));
  FEDREC_ASSIGN_OR_RETURN(PhiloxStream * st, s.streams.Put<PhiloxStream>(
                                                 *ops_, std::span<const PhiloxStream>(streams)));
  return ops_->EncodeAddRuns(s.grad_base, runs, runs_host.size(), f, st, scale, limit, acc);
}

absl::Status SasRecClientBatch::AddSumInto(std::span<uint64_t> acc) {
  const size_t n = flat_size_;
  if (acc.size() != n) return absl::InvalidArgumentError("client batch: the sum has another size");
  FEDREC_RETURN_IF_ERROR(ops_->BindToCallingThread());
  std::vector<uint64_t> host(n);
  FEDREC_RETURN_IF_ERROR(ops_->Download(host.data(), state_->sum->data(), n * sizeof(uint64_t)));
  for (size_t i = 0; i < n; ++i) acc[i] += host[i];
  return ZeroWords(*ops_, state_->sum->as<uint64_t>(), n);
}

}  // namespace fedrec::kernels
