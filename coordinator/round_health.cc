#include "coordinator/round_health.h"

#include <algorithm>
#include <cmath>

#include "coordinator/run_common.h"
#include "fmt/format.h"

namespace fedrec {

absl::Status CheckClientsFinite(uint32_t round, const WorkerRoundStats& stats, const Config& config,
                                const std::optional<std::string>& last_checkpoint) {
  if (stats.uploaded == 0 || stats.nonfinite_loss < stats.uploaded) return absl::OkStatus();
  return DivergedModelError(
      fmt::format("round {}", round),
      fmt::format("every client's loss is NaN or infinite ({} of {} uploads): the model has "
                  "diverged",
                  stats.nonfinite_loss, stats.uploaded),
      fmt::format("federation.server_lr = {:g} ({}) or train.local_lr = {:g} too large",
                  config.federation.server_lr, config.federation.server_optimizer,
                  config.train.local_lr),
      last_checkpoint);
}

absl::Status CheckModelFinite(uint32_t round, std::span<const float> params,
                              std::span<const double> update, const RoundNoise& noise,
                              const Config& config,
                              const std::optional<std::string>& last_checkpoint) {
  const size_t bad = CountNonFinite(params);
  if (bad == 0) return absl::OkStatus();
  bool update_finite = true;
  double largest = 0;
  for (const double v : update) {
    if (std::isfinite(v)) {
      largest = std::max(largest, std::abs(v));
    } else {
      update_finite = false;
    }
  }
  std::string cause;
  if (noise.noise_std > 1e3) {
    cause = fmt::format(
        "privacy.noise_multiplier = {:g} (Gaussian noise of std {:.3g} per coordinate of the "
        "update)",
        noise.noise_multiplier, noise.noise_std);
  } else if (!update_finite) {
    cause = fmt::format("the clients' updates are not finite; train.local_lr = {:g} too large",
                        config.train.local_lr);
  } else {
    cause = fmt::format(
        "federation.server_lr = {:g} too large ({} step on an update with entries up to {:.3g})",
        config.federation.server_lr, config.federation.server_optimizer, largest);
  }
  return DivergedModelError(
      fmt::format("round {}", round),
      fmt::format("the model is no longer finite ({} of {} parameters are NaN or infinite)", bad,
                  params.size()),
      cause, last_checkpoint);
}

}  // namespace fedrec
