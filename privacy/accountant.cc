#include "privacy/accountant.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>

namespace fedrec::privacy {
namespace {

absl::Status CheckOrders(const std::vector<double>& orders) {
  if (orders.empty()) return absl::InvalidArgumentError("privacy: orders: empty");
  for (double a : orders) {
    if (!(a > 1)) return InvalidInput("privacy: orders", "every order must be > 1");
  }
  return absl::OkStatus();
}

absl::Status BadState(const std::string& what) {
  return absl::InvalidArgumentError("privacy: state: " + what);
}

}  // namespace

nlohmann::json RdpStateToJson(const RdpState& state) {
  nlohmann::json rdp = nlohmann::json::array();
  for (double r : state.rdp) {
    if (std::isinf(r)) {
      rdp.push_back("inf");
    } else {
      rdp.push_back(r);
    }
  }
  nlohmann::json j;
  j["accountant"] = "rdp";
  j["adjacency"] = state.adjacency == Adjacency::kAddRemoveOne ? "add_remove_one" : "replace_one";
  j["orders"] = state.orders;
  j["rdp"] = std::move(rdp);
  return j;
}

absl::StatusOr<RdpState> RdpStateFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return BadState("not a JSON object");
  if (j.value("accountant", "") != "rdp") return BadState("accountant: must be \"rdp\"");
  RdpState state;
  const std::string adjacency = j.value("adjacency", "");
  if (adjacency == "add_remove_one") {
    state.adjacency = Adjacency::kAddRemoveOne;
  } else if (adjacency == "replace_one") {
    state.adjacency = Adjacency::kReplaceOne;
  } else {
    return BadState("adjacency: must be add_remove_one or replace_one");
  }
  if (!j.contains("orders") || !j["orders"].is_array() || !j.contains("rdp") ||
      !j["rdp"].is_array()) {
    return BadState("orders and rdp must be arrays");
  }
  for (const auto& a : j["orders"]) {
    if (!a.is_number()) return BadState("orders: must be numbers");
    state.orders.push_back(a.get<double>());
  }
  for (const auto& r : j["rdp"]) {
    if (r.is_string() && r.get<std::string>() == "inf") {
      state.rdp.push_back(std::numeric_limits<double>::infinity());
    } else if (r.is_number()) {
      state.rdp.push_back(r.get<double>());
    } else {
      return BadState("rdp: must be numbers or \"inf\"");
    }
  }
  // The remaining checks (lengths, orders > 1, rdp >= 0) are FromState's.
  FEDREC_RETURN_IF_ERROR(RdpAccountant::FromState(state).status());
  return state;
}

RdpAccountant::RdpAccountant(Adjacency adjacency) {
  state_.adjacency = adjacency;
  state_.orders = DefaultRdpOrders();
  state_.rdp.assign(state_.orders.size(), 0.0);
}

absl::StatusOr<RdpAccountant> RdpAccountant::WithOrders(std::vector<double> orders,
                                                        Adjacency adjacency) {
  FEDREC_RETURN_IF_ERROR(CheckOrders(orders));
  RdpState state;
  state.adjacency = adjacency;
  state.rdp.assign(orders.size(), 0.0);
  state.orders = std::move(orders);
  return RdpAccountant(std::move(state));
}

absl::StatusOr<RdpAccountant> RdpAccountant::FromState(RdpState state) {
  FEDREC_RETURN_IF_ERROR(CheckOrders(state.orders));
  if (state.rdp.size() != state.orders.size()) {
    return absl::InvalidArgumentError("privacy: state: orders and rdp differ in length");
  }
  for (double r : state.rdp) {
    if (!(r >= 0)) return InvalidInput("privacy: state: rdp", "values must be >= 0");
  }
  return RdpAccountant(std::move(state));
}

absl::Status RdpAccountant::Compose(double q, double sigma, int64_t steps, SamplingScheme scheme) {
  FEDREC_RETURN_IF_ERROR(ValidateSteps(steps, "steps"));
  if (scheme == SamplingScheme::kPoisson && state_.adjacency != Adjacency::kAddRemoveOne) {
    return absl::FailedPreconditionError(
        "privacy: Poisson sampling is accounted under add/remove-one adjacency; this "
        "accountant is replace-one");
  }
  if (scheme == SamplingScheme::kFixedSize && state_.adjacency != Adjacency::kReplaceOne) {
    return absl::FailedPreconditionError(
        "privacy: a fixed-size cohort (sampling without replacement) is accounted only under "
        "replace-one adjacency [Wang, Balle, Kasiviswanathan 2019]; this accountant is "
        "add/remove-one: sample the cohort by Poisson sampling or use a replace-one accountant");
  }
  FEDREC_ASSIGN_OR_RETURN(std::vector<double> one,
                          SubsampledGaussianRdp(scheme, q, sigma, state_.orders));
  if (steps == 0) return absl::OkStatus();  // releases nothing: spends nothing
  // Composition [M17, Prop. 1]: RDP at each order adds up over steps.
  for (size_t k = 0; k < one.size(); ++k) {
    state_.rdp[k] += static_cast<double>(steps) * one[k];
  }
  return absl::OkStatus();
}

absl::Status RdpAccountant::ComposeRdp(std::span<const double> per_step, int64_t steps) {
  FEDREC_RETURN_IF_ERROR(ValidateSteps(steps, "steps"));
  if (per_step.size() != state_.orders.size()) {
    return absl::InvalidArgumentError("privacy: rdp curve: length differs from the orders");
  }
  for (double r : per_step) {
    if (!(r >= 0)) return InvalidInput("privacy: rdp curve", "values must be >= 0");
  }
  if (steps == 0) return absl::OkStatus();
  for (size_t k = 0; k < per_step.size(); ++k) {
    state_.rdp[k] += static_cast<double>(steps) * per_step[k];
  }
  return absl::OkStatus();
}

absl::StatusOr<EpsilonAndOrder> RdpAccountant::Epsilon(double delta) const {
  return EpsilonFromRdp(state_.orders, state_.rdp, delta);
}

absl::StatusOr<EpsilonAndOrder> RdpAccountant::EpsilonClassic(double delta) const {
  return EpsilonFromRdpClassic(state_.orders, state_.rdp, delta);
}

absl::StatusOr<DeltaAndOrder> RdpAccountant::Delta(double epsilon) const {
  return DeltaFromRdp(state_.orders, state_.rdp, epsilon);
}

Adjacency AdjacencyFor(SamplingScheme scheme) {
  return scheme == SamplingScheme::kPoisson ? Adjacency::kAddRemoveOne : Adjacency::kReplaceOne;
}

absl::StatusOr<double> RdpCurveEpsilon(std::span<const double> per_step, int64_t steps,
                                       double delta) {
  RdpAccountant total;
  FEDREC_RETURN_IF_ERROR(total.ComposeRdp(per_step, steps));
  FEDREC_ASSIGN_OR_RETURN(EpsilonAndOrder e, total.Epsilon(delta));
  return e.epsilon;
}

absl::StatusOr<EpsilonAndOrder> SubsampledGaussianEpsilon(SamplingScheme scheme, double q,
                                                          double sigma, int64_t steps, double delta,
                                                          const std::vector<double>& orders) {
  FEDREC_RETURN_IF_ERROR(ValidateDelta(delta, "delta"));
  FEDREC_ASSIGN_OR_RETURN(RdpAccountant accountant,
                          RdpAccountant::WithOrders(orders, AdjacencyFor(scheme)));
  FEDREC_RETURN_IF_ERROR(accountant.Compose(q, sigma, steps, scheme));
  return accountant.Epsilon(delta);
}

absl::StatusOr<EpsilonAndOrder> PoissonGaussianEpsilon(double q, double sigma, int64_t steps,
                                                       double delta,
                                                       const std::vector<double>& orders) {
  return SubsampledGaussianEpsilon(SamplingScheme::kPoisson, q, sigma, steps, delta, orders);
}

absl::StatusOr<double> CalibrateNoiseMultiplier(double q, int64_t steps, double delta,
                                                double target_epsilon,
                                                const CalibrationOptions& options) {
  const std::vector<double>& orders = options.orders;
  const double rel_tol = options.rel_tol;
  FEDREC_RETURN_IF_ERROR(ValidateSamplingRate(q, "q"));
  FEDREC_RETURN_IF_ERROR(ValidateSteps(steps, "steps"));
  FEDREC_RETURN_IF_ERROR(ValidateDelta(delta, "delta"));
  FEDREC_RETURN_IF_ERROR(ValidateEpsilon(target_epsilon, "epsilon"));
  FEDREC_RETURN_IF_ERROR(CheckOrders(orders));
  if (!(rel_tol > 0 && rel_tol < 1)) {
    return absl::InvalidArgumentError("privacy: rel_tol: must be in (0, 1)");
  }
  if (q == 0 || steps == 0) return 0.0;  // nothing is released about anyone

  auto epsilon_at = [&](double sigma) -> absl::StatusOr<double> {
    FEDREC_ASSIGN_OR_RETURN(EpsilonAndOrder e, SubsampledGaussianEpsilon(options.scheme, q, sigma,
                                                                         steps, delta, orders));
    return e.epsilon;
  };
  return SmallestSigmaWithin(target_epsilon, /*start=*/1, rel_tol, /*halve_below=*/false,
                             epsilon_at);
}

absl::StatusOr<double> SmallestSigmaWithin(
    double target_epsilon, double start, double rel_tol, bool halve_below,
    const std::function<absl::StatusOr<double>(double)>& epsilon_at) {
  // Bracket: lo has epsilon > target, hi has epsilon <= target.
  double lo = 0;
  double hi = start;
  for (int k = 0;; ++k) {
    FEDREC_ASSIGN_OR_RETURN(double eps, epsilon_at(hi));
    if (eps <= target_epsilon) break;
    if (k >= 60) {
      return absl::OutOfRangeError("privacy: no noise multiplier up to 2^60 times " +
                                   std::to_string(start) + " reaches epsilon " +
                                   std::to_string(target_epsilon));
    }
    lo = hi;
    hi *= 2;
  }
  if (lo == 0 && halve_below) {
    lo = hi / 2;
    for (int k = 0;; ++k) {
      FEDREC_ASSIGN_OR_RETURN(double eps, epsilon_at(lo));
      if (eps > target_epsilon) break;
      if (k >= 60) return lo;  // cannot happen for a finite target
      hi = lo;
      lo /= 2;
    }
  }
  // Bisection; the invariant epsilon(hi) <= target means the answer never
  // overspends the budget.
  while (hi - lo > rel_tol * hi) {
    const double mid = 0.5 * (lo + hi);
    FEDREC_ASSIGN_OR_RETURN(double eps, epsilon_at(mid));
    if (eps <= target_epsilon) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi;
}

}  // namespace fedrec::privacy
