#include "models/optimizer.h"

#include <cmath>
#include <cstring>

namespace fedrec {
namespace {

// Copies a store's values into a proto tensor and back (float32 LE bytes).
void SaveSlot(const std::string& name, const ParameterStore& store, proto::OptimizerState* state) {
  for (size_t k = 0; k < store.num_tensors(); ++k) {
    const ConstTensorView v = store.ViewAt(k);
    proto::NamedTensor* t = state->add_slots();
    t->set_name(name + "/" + store.layout()[k].name);
    t->set_rows(v.rows);
    t->set_cols(v.cols);
    t->set_data(reinterpret_cast<const char*>(v.data), v.size() * sizeof(float));
  }
}

absl::Status LoadSlot(const std::string& name, const proto::OptimizerState& state, size_t first,
                      ParameterStore* store) {
  if (state.slots_size() < static_cast<int>(first + store->num_tensors())) {
    return absl::InvalidArgumentError("optimizer state: missing slot '" + name + "'");
  }
  for (size_t k = 0; k < store->num_tensors(); ++k) {
    const proto::NamedTensor& t = state.slots(static_cast<int>(first + k));
    TensorView v = store->ViewAt(k);
    const std::string expected = name + "/" + store->layout()[k].name;
    if (t.name() != expected || t.rows() != v.rows || t.cols() != v.cols ||
        t.data().size() != v.size() * sizeof(float)) {
      return absl::InvalidArgumentError("optimizer state: slot '" + t.name() +
                                        "' does not match '" + expected + "'");
    }
    std::memcpy(v.data, t.data().data(), t.data().size());
  }
  return absl::OkStatus();
}

ParameterStore ZerosLike(const ParameterStore& params) {
  ParameterStore z;
  for (const TensorLayout& t : params.layout()) (void)z.Add(t.name, t.rows, t.cols);
  z.Finalize();
  return z;
}

// Calls fn(row_span_index...) over the entries of tensor k that the update
// must visit: all entries for dense tensors (or dense-semantics Adam), only
// touched rows otherwise.
template <typename Fn>
void ForEachUpdatedEntry(const Gradients& grads, size_t k, bool all_rows, size_t rows, size_t cols,
                         Fn fn) {
  if (!grads.IsSparse(k) || all_rows) {
    fn(size_t{0}, rows * cols);
    return;
  }
  for (uint32_t row : grads.TouchedRows(k)) fn(size_t{row} * cols, size_t{row} * cols + cols);
}

class Sgd final : public Optimizer {
 public:
  explicit Sgd(const OptimizerOptions& o) : o_(o) {}

  void Step(const Gradients& grads, ParameterStore* params) override {
    ++steps_;
    const float lr = static_cast<float>(o_.lr);
    const float wd = static_cast<float>(o_.weight_decay);
    for (size_t k = 0; k < params->num_tensors(); ++k) {
      TensorView p = params->ViewAt(k);
      const ConstTensorView g = grads.values().ViewAt(k);
      ForEachUpdatedEntry(grads, k, false, p.rows, p.cols, [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) p.data[i] -= lr * (g.data[i] + wd * p.data[i]);
      });
    }
  }
  uint64_t steps() const override { return steps_; }
  void SaveState(proto::OptimizerState* state) const override {
    state->set_name("sgd");
    (*state->mutable_counters())["steps"] = steps_;
  }
  absl::Status LoadState(const proto::OptimizerState& state) override {
    if (state.name() != "sgd") {
      return absl::InvalidArgumentError("optimizer state is '" + state.name() + "', not 'sgd'");
    }
    steps_ = state.counters().contains("steps") ? state.counters().at("steps") : 0;
    return absl::OkStatus();
  }

 private:
  OptimizerOptions o_;
  uint64_t steps_ = 0;
};

class Adam final : public Optimizer {
 public:
  Adam(const OptimizerOptions& o, const ParameterStore& params)
      : o_(o), m_(ZerosLike(params)), v_(ZerosLike(params)) {}

  void Step(const Gradients& grads, ParameterStore* params) override {
    ++steps_;
    const double t = static_cast<double>(steps_);
    const float b1 = static_cast<float>(o_.beta1), b2 = static_cast<float>(o_.beta2);
    // Bias corrections folded into the step size and epsilon, in double.
    const double c1 = 1.0 - std::pow(o_.beta1, t);
    const double c2 = 1.0 - std::pow(o_.beta2, t);
    const float step = static_cast<float>(o_.lr / c1);
    const float inv_sqrt_c2 = static_cast<float>(1.0 / std::sqrt(c2));
    const float eps = static_cast<float>(o_.eps);
    const float wd = static_cast<float>(o_.weight_decay);
    for (size_t k = 0; k < params->num_tensors(); ++k) {
      TensorView p = params->ViewAt(k);
      const ConstTensorView g = grads.values().ViewAt(k);
      float* m = m_.ViewAt(k).data;
      float* v = v_.ViewAt(k).data;
      // Dense-semantics Adam also visits untouched rows, whose gradient
      // entries are exactly zero (Gradients' invariant).
      ForEachUpdatedEntry(grads, k, !o_.lazy_sparse, p.rows, p.cols, [&](size_t b, size_t e) {
        for (size_t i = b; i < e; ++i) {
          const float gi = g.data[i] + wd * p.data[i];
          m[i] = b1 * m[i] + (1.0f - b1) * gi;
          v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
          p.data[i] -= step * m[i] / (std::sqrt(v[i]) * inv_sqrt_c2 + eps);
        }
      });
    }
  }
  uint64_t steps() const override { return steps_; }
  void SaveState(proto::OptimizerState* state) const override {
    state->set_name(o_.lazy_sparse ? "lazy_adam" : "adam");
    (*state->mutable_counters())["steps"] = steps_;
    SaveSlot("m", m_, state);
    SaveSlot("v", v_, state);
  }
  absl::Status LoadState(const proto::OptimizerState& state) override {
    const std::string name = o_.lazy_sparse ? "lazy_adam" : "adam";
    if (state.name() != name) {
      return absl::InvalidArgumentError("optimizer state is '" + state.name() + "', not '" + name +
                                        "'");
    }
    steps_ = state.counters().contains("steps") ? state.counters().at("steps") : 0;
    FEDREC_RETURN_IF_ERROR(LoadSlot("m", state, 0, &m_));
    return LoadSlot("v", state, m_.num_tensors(), &v_);
  }

 private:
  OptimizerOptions o_;
  ParameterStore m_, v_;
  uint64_t steps_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Optimizer>> Optimizer::Create(const OptimizerOptions& o,
                                                             const ParameterStore& params) {
  if (!(o.lr > 0) || !std::isfinite(o.lr)) {
    return absl::InvalidArgumentError("optimizer: lr must be a positive number");
  }
  if (o.weight_decay < 0) return absl::InvalidArgumentError("optimizer: weight_decay must be >= 0");
  if (o.kind == "sgd") return std::unique_ptr<Optimizer>(new Sgd(o));
  if (o.kind == "adam") {
    if (!(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1 && o.eps > 0)) {
      return absl::InvalidArgumentError("optimizer: adam needs 0 <= beta < 1 and eps > 0");
    }
    return std::unique_ptr<Optimizer>(new Adam(o, params));
  }
  return absl::InvalidArgumentError("optimizer: '" + o.kind + "' is not one of: adam, sgd");
}

}  // namespace fedrec
