// The RDP privacy accountant of fedrec and noise calibration.
//
// A run releases one noisy aggregate per round; each round is one step of the
// Poisson-subsampled Gaussian mechanism with sampling rate q (the probability
// that a user takes part) and noise multiplier sigma. RDP composes additively
// over steps [M17, Prop. 1]; the total converts to (epsilon, delta) with the
// improved conversion (see privacy/rdp.h for the references).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "core/status.h"
#include "privacy/rdp.h"

namespace fedrec::privacy {

// What the ledger persists: the orders and the accumulated RDP at each.
struct RdpState {
  std::vector<double> orders;
  std::vector<double> rdp;
  Adjacency adjacency = Adjacency::kAddRemoveOne;
};

// The state as JSON, for privacy.json and the checkpoint's ledger:
//   {"accountant": "rdp", "adjacency": "add_remove_one" | "replace_one",
//    "orders": [...], "rdp": [...]}
// with +inf RDP (sigma = 0 was spent) written as the string "inf". Doubles
// round-trip exactly (nlohmann writes 17 significant digits).
nlohmann::json RdpStateToJson(const RdpState& state);
// InvalidArgument "privacy: state: ..." on a malformed document.
absl::StatusOr<RdpState> RdpStateFromJson(const nlohmann::json& j);

class RdpAccountant {
 public:
  // dp_accounting's default orders.
  explicit RdpAccountant(Adjacency adjacency = Adjacency::kAddRemoveOne);
  // InvalidArgument unless `orders` is non-empty and every order is > 1.
  static absl::StatusOr<RdpAccountant> WithOrders(std::vector<double> orders,
                                                  Adjacency adjacency = Adjacency::kAddRemoveOne);
  // Resumes from a persisted state (same checks, plus rdp >= 0 or +inf, not NaN).
  static absl::StatusOr<RdpAccountant> FromState(RdpState state);

  // Adds `steps` steps of the subsampled Gaussian mechanism (q, sigma), the
  // cohort drawn by `scheme`. InvalidArgument on bad values;
  // FailedPrecondition when the scheme's analysis does not hold for the
  // accountant's adjacency (Poisson needs add/remove-one, FixedSize
  // replace-one; as dp_accounting). steps = 0 spends nothing (even with
  // sigma = 0), and a refused call composes nothing.
  absl::Status Compose(double q, double sigma, int64_t steps,
                       SamplingScheme scheme = SamplingScheme::kPoisson);

  // Adds `steps` steps of any mechanism whose one-step RDP curve, at this
  // accountant's orders, is `per_step` (e.g. the distributed discrete
  // Gaussian, privacy/ddg.h). InvalidArgument when the lengths differ or a
  // value is negative or NaN; steps = 0 spends nothing.
  absl::Status ComposeRdp(std::span<const double> per_step, int64_t steps);

  // Smallest epsilon over the orders for `delta` in (0, 1), improved conversion.
  absl::StatusOr<EpsilonAndOrder> Epsilon(double delta) const;
  // The same with the classic conversion [M17, Prop. 3] (for comparison with
  // older published values; looser).
  absl::StatusOr<EpsilonAndOrder> EpsilonClassic(double delta) const;
  // Smallest delta for `epsilon` >= 0.
  absl::StatusOr<DeltaAndOrder> Delta(double epsilon) const;

  const std::vector<double>& orders() const { return state_.orders; }
  const std::vector<double>& rdp() const { return state_.rdp; }
  Adjacency adjacency() const { return state_.adjacency; }
  const RdpState& state() const { return state_; }

 private:
  explicit RdpAccountant(RdpState state) : state_(std::move(state)) {}
  RdpState state_;
};

// The adjacency under which `scheme` is analysed: Poisson -> add/remove-one,
// FixedSize -> replace-one.
Adjacency AdjacencyFor(SamplingScheme scheme);

// Epsilon of `steps` steps of the subsampled Gaussian (q, sigma), cohorts drawn
// by `scheme` (with AdjacencyFor(scheme)), at `delta`, improved conversion over
// `orders`; validates every argument.
absl::StatusOr<EpsilonAndOrder> SubsampledGaussianEpsilon(
    SamplingScheme scheme, double q, double sigma, int64_t steps, double delta,
    const std::vector<double>& orders = DefaultRdpOrders());
// Epsilon of `steps` steps of any mechanism whose one-step RDP curve at
// DefaultRdpOrders() is `per_step` (e.g. the distributed discrete Gaussian,
// privacy/ddg.h), at `delta`, improved conversion.
absl::StatusOr<double> RdpCurveEpsilon(std::span<const double> per_step, int64_t steps,
                                       double delta);
// The same for Poisson sampling.
absl::StatusOr<EpsilonAndOrder> PoissonGaussianEpsilon(
    double q, double sigma, int64_t steps, double delta,
    const std::vector<double>& orders = DefaultRdpOrders());

struct CalibrationOptions {
  SamplingScheme scheme = SamplingScheme::kPoisson;
  std::vector<double> orders = DefaultRdpOrders();
  double rel_tol = 1e-6;  // in (0, 1)
};

// The smallest noise multiplier sigma (to relative tolerance rel_tol) such
// that `steps` steps of the subsampled Gaussian with rate q are
// (target_epsilon, delta)-DP by the RDP accountant (SubsampledGaussianEpsilon
// with the options' scheme and orders). The result always satisfies
// epsilon(sigma) <= target_epsilon (the upper end of the bisection bracket is
// returned). q = 0 or steps = 0 gives 0 (no noise needed). Bracketing doubles
// sigma from 1; bisection on [lo, hi] until hi - lo <= rel_tol * hi.
// InvalidArgument on bad values.
absl::StatusOr<double> CalibrateNoiseMultiplier(double q, int64_t steps, double delta,
                                                double target_epsilon,
                                                const CalibrationOptions& options = {});

// The search both calibrations (RDP here, PLD in pld.h) share, for any
// epsilon_at(sigma) that does not increase with sigma. Doubles sigma from
// `start` until epsilon(sigma) <= target (OutOfRange after 60 doublings);
// if `start` already meets the target, the lower end is 0 (epsilon(0) is
// +inf), or with `halve_below` the first of start/2, start/4, ... above the
// target (for accountants whose cost explodes at tiny sigma). Then bisects
// until hi - lo <= rel_tol * hi and returns hi, so the result never
// overspends the budget.
absl::StatusOr<double> SmallestSigmaWithin(
    double target_epsilon, double start, double rel_tol, bool halve_below,
    const std::function<absl::StatusOr<double>(double)>& epsilon_at);

}  // namespace fedrec::privacy
