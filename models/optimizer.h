// Optimisers for central training and for clients' local steps: SGD and Adam.
//
// Embedding tables have row-sparse gradients (models/gradients.h). Two Adam
// semantics are offered for them:
//   dense (default): every row's moments decay every step, exactly as
//     PyTorch's torch.optim.Adam and TF1's AdamOptimizer on the SASRec
//     paper's code; cost O(table size) per step.
//   lazy: only touched rows are updated (TF's LazyAdamOptimizer); cost
//     O(touched rows), for large catalogues and federated clients.
// SGD touches only rows with a gradient either way (identical semantics).
//
// Update, per entry, with step t (1-based) and gradient g:
//   SGD:  p -= lr * (g + weight_decay * p)
//   Adam: m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//         p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
// State (moments, step count) round-trips through proto::OptimizerState for
// checkpoints; a resumed run continues bitwise identically.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/param_store.h"
#include "core/status.h"
#include "models/gradients.h"
#include "proto/fedrec.pb.h"

namespace fedrec {

struct OptimizerOptions {
  std::string kind = "adam";  // adam | sgd
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.98;  // SASRec's setting; PyTorch's default is 0.999
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool lazy_sparse = false;
};

// Not thread-safe: one optimiser per parameter store, stepped by one thread.
class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // InvalidArgument for an unknown kind or out-of-range hyper-parameters.
  static absl::StatusOr<std::unique_ptr<Optimizer>> Create(const OptimizerOptions& options,
                                                           const ParameterStore& params);

  // Applies one update from `grads` (same layout as `params`).
  virtual void Step(const Gradients& grads, ParameterStore* params) = 0;
  virtual uint64_t steps() const = 0;

  virtual void SaveState(proto::OptimizerState* state) const = 0;
  // InvalidArgument when the state does not match this optimiser and layout.
  virtual absl::Status LoadState(const proto::OptimizerState& state) = 0;
};

}  // namespace fedrec
