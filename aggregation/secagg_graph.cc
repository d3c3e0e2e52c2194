#include "aggregation/secagg_graph.h"

#include <algorithm>
#include <cmath>

namespace fedrec::secagg {

absl::Status ValidateSecaggParams(const SecaggParams& p) {
  if (p.bits != 32 && p.bits != 64) return InvalidInput("secagg", "bits must be 32 or 64");
  if (p.graph != "complete" && p.graph != "harary") {
    return InvalidInput("secagg.graph", "must be complete or harary, got '" + p.graph + "'");
  }
  if (p.degree < 0 || p.degree == 1) {
    return InvalidInput("secagg.degree", "must be 0 (auto) or >= 2");
  }
  if (!(p.threshold > 0.0 && p.threshold <= 1.0)) {
    return InvalidInput("secagg.threshold", "must be in (0, 1]");
  }
  if (p.threshold < 0.5) {
    return InvalidInput("secagg.threshold",
                        "must be at least 0.5: a threshold of at most half a neighbourhood lets a "
                        "server that reports different dropout sets to different participants "
                        "collect both the self-mask and the mask-key shares of one participant");
  }
  if (!(p.expected_dropout >= 0.0 && p.expected_dropout < 1.0)) {
    return InvalidInput("secagg", "expected dropout rate must be in [0, 1)");
  }
  return absl::OkStatus();
}

size_t AutoDegree(size_t n, double expected_dropout) {
  if (n <= 1) return 0;
  size_t log2n = 0;
  while ((size_t{1} << log2n) < n) ++log2n;
  const double inflated = std::ceil(static_cast<double>(2 * log2n) / (1.0 - expected_dropout));
  size_t k = static_cast<size_t>(inflated);
  if (k % 2 == 1) ++k;
  return std::max<size_t>(k, 2);
}

double NeighbourhoodSurvivalProbability(const GraphPlan& plan, double dropout) {
  if (plan.threshold <= 1 || dropout <= 0) return 1.0;
  if (dropout >= 1) return 0.0;
  const double trials = static_cast<double>(plan.neighbourhood - 1);
  const double keep = 1.0 - dropout;
  double total = 0;
  for (size_t k = plan.threshold - 1; k + 1 <= plan.neighbourhood; ++k) {
    const double x = static_cast<double>(k);
    const double log_term = std::lgamma(trials + 1) - std::lgamma(x + 1) -
                            std::lgamma(trials - x + 1) + x * std::log(keep) +
                            (trials - x) * std::log(dropout);
    total += std::exp(log_term);
  }
  return std::min(1.0, total);
}

absl::StatusOr<GraphPlan> PlanGraph(const SecaggParams& params, size_t n) {
  FEDREC_RETURN_IF_ERROR(ValidateSecaggParams(params));
  if (n == 0) return InvalidInput("secagg", "a round needs at least one participant");
  GraphPlan plan;
  plan.n = n;
  size_t k = n - 1;
  if (params.graph == "harary") {
    k = params.degree == 0 ? AutoDegree(n, params.expected_dropout)
                           : static_cast<size_t>(params.degree);
    if (k % 2 == 1 && n % 2 == 1) ++k;
    k = std::min(k, n - 1);
  }
  plan.complete = (k == n - 1);
  plan.degree = k;
  plan.neighbourhood = k + 1;
  const size_t d = plan.neighbourhood;
  // A tiny epsilon keeps e.g. 0.7 * 10 from rounding up to 8.
  const size_t by_fraction = static_cast<size_t>(std::ceil(params.threshold * d - 1e-9));
  plan.threshold = std::min(d, std::max(by_fraction, d / 2 + 1));
  const double expected_survivors = (1.0 - params.expected_dropout) * static_cast<double>(d);
  if (expected_survivors < static_cast<double>(plan.threshold)) {
    plan.warning = "secagg: with expected dropout " + std::to_string(params.expected_dropout) +
                   " a neighbourhood of " + std::to_string(d) + " keeps about " +
                   std::to_string(expected_survivors) + " participants, fewer than the " +
                   std::to_string(plan.threshold) +
                   " needed to unmask: most rounds will abort (raise secagg.degree or lower "
                   "secagg.threshold)";
  }
  return plan;
}

bool AreNeighbours(const GraphPlan& plan, size_t a, size_t b) {
  if (a == b || plan.complete) return true;
  const size_t n = plan.n;
  const size_t diff = a > b ? a - b : b - a;
  const size_t ring = std::min(diff, n - diff);  // distance on the ring
  if (ring <= plan.degree / 2) return true;
  return plan.degree % 2 == 1 && ring == n / 2;  // odd k (n even): the diameter
}

std::vector<size_t> Neighbourhood(const GraphPlan& plan, size_t pos) {
  std::vector<size_t> out;
  if (plan.complete) {
    out.resize(plan.n);
    for (size_t i = 0; i < plan.n; ++i) out[i] = i;
    return out;
  }
  const size_t n = plan.n, half = plan.degree / 2;
  out.push_back(pos);
  for (size_t j = 1; j <= half; ++j) {
    out.push_back((pos + j) % n);
    out.push_back((pos + n - j) % n);
  }
  if (plan.degree % 2 == 1) out.push_back((pos + n / 2) % n);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace fedrec::secagg
