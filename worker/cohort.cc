#include "worker/cohort.h"

#include <algorithm>
#include <unordered_set>

#include "core/random.h"

namespace fedrec {

bool PoissonSampled(const CohortPlan& plan, uint32_t round, uint32_t client) {
  if (plan.sampling_rate >= 1.0) return true;
  RandomStream rng({.seed = plan.seed, .purpose = "cohort", .round = round, .client = client});
  return rng.NextBernoulli(plan.sampling_rate);
}

std::vector<uint64_t> FixedCohortPositions(const CohortPlan& plan, uint32_t round,
                                           uint64_t population) {
  const uint64_t m = std::min<uint64_t>(plan.clients_per_round, population);
  // Floyd's algorithm: for j = N-m .. N-1 draw t in [0, j]; take t unless
  // already taken, else take j. Uniform over m-subsets.
  RandomStream rng({.seed = plan.seed, .purpose = "cohort_fixed", .round = round});
  std::unordered_set<uint64_t> chosen;
  chosen.reserve(m * 2);
  std::vector<uint64_t> out;
  out.reserve(m);
  for (uint64_t j = population - m; j < population; ++j) {
    const uint64_t t = rng.NextBelow64(j + 1);
    const uint64_t pick = chosen.contains(t) ? j : t;
    chosen.insert(pick);
    out.push_back(pick);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<uint32_t> SampleCohort(const CohortPlan& plan, uint32_t round,
                                   std::span<const uint32_t> population,
                                   std::span<const uint32_t> candidates) {
  std::vector<uint32_t> out;
  if (plan.clients_per_round == 0) {
    for (uint32_t u : candidates) {
      if (PoissonSampled(plan, round, u)) out.push_back(u);
    }
    return out;
  }
  for (uint64_t pos : FixedCohortPositions(plan, round, population.size())) {
    const uint32_t u = population[pos];
    if (std::binary_search(candidates.begin(), candidates.end(), u)) out.push_back(u);
  }
  return out;
}

bool DropsOut(const CohortPlan& plan, uint32_t round, uint32_t client) {
  if (plan.dropout_rate <= 0) return false;
  RandomStream rng(
      {.seed = plan.seed, .purpose = "client_dropout", .round = round, .client = client});
  return rng.NextBernoulli(plan.dropout_rate);
}

}  // namespace fedrec
