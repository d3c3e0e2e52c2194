// Server optimizers of federated training (Reddi et al. 2021, "Adaptive
// Federated Optimization", Algorithm 2), applied by the coordinator to the
// decoded average client update ("pseudo-gradient") Delta of a round:
//
//   fedavg      x += lr * Delta
//   fedavgm     m = beta * m + Delta;                       x += lr * m
//   fedadagrad  v = v + Delta^2;                            x += lr * m / (sqrt(v) + tau)
//   fedadam     v = beta2 * v + (1 - beta2) * Delta^2;      x += lr * m / (sqrt(v) + tau)
//   fedyogi     v = v - (1 - beta2) * Delta^2 * sign(v - Delta^2)
//
// where for the adaptive three m = beta1 * m + (1 - beta1) * Delta (fedadagrad
// uses the same first moment as the paper's Algorithm 2), and v starts at
// tau^2 as in the paper. No bias correction (the paper has none).
//
// Delta is the average of (local - global), so it points in the direction
// the clients moved: the server ADDS it.
//
// The state (m, v, step count) is saved into and restored from the
// checkpoint's OptimizerState, so a resumed run steps exactly as an
// uninterrupted one. Every update is elementwise in a fixed order: the result
// is a pure function of the state and Delta. Not thread-safe.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "proto/fedrec.pb.h"

namespace fedrec {

struct ServerOptimizerOptions {
  std::string kind = "fedavg";  // fedavg|fedavgm|fedadam|fedyogi|fedadagrad
  double lr = 1.0;
  double momentum = 0.9;  // fedavgm
  double beta1 = 0.9;     // fedadam, fedyogi, fedadagrad first moment
  double beta2 = 0.99;    // fedadam, fedyogi
  double tau = 1e-3;      // adaptivity
};

class ServerOptimizer {
 public:
  // InvalidArgument for an unknown kind or out-of-range hyper-parameters.
  static absl::StatusOr<ServerOptimizer> Create(const ServerOptimizerOptions& options,
                                                size_t num_params);

  // params[i] += update computed from delta[i]; both have num_params entries.
  void Step(std::span<const double> delta, std::span<float> params);

  uint64_t steps() const { return steps_; }
  const std::string& kind() const { return options_.kind; }

  void SaveState(proto::OptimizerState* state) const;
  // InvalidArgument when the state is of another kind or size.
  absl::Status LoadState(const proto::OptimizerState& state);

 private:
  explicit ServerOptimizer(ServerOptimizerOptions options) : options_(std::move(options)) {}

  ServerOptimizerOptions options_;
  std::vector<float> m_, v_;
  uint64_t steps_ = 0;
};

}  // namespace fedrec
