// Who takes part in a round: cohort sampling and simulated dropouts, as pure
// functions of (seed, round, client), so every rank agrees without a message
// (DESIGN.md, "One round").
//
//   Poisson (default): client u is in round r's cohort iff
//       Bernoulli(q) from the stream (seed, "cohort", r, u)
//     so each rank decides for its own clients alone, and the cohort size is
//     Binomial(N, q): exactly the sampling the DP accountant assumes.
//   Fixed size m: a uniformly random m-subset of the population, drawn by
//     Floyd's algorithm from the stream (seed, "cohort_fixed", r); every rank
//     draws the same subset (O(m) work, independent of N).
//   Dropout: a sampled client vanishes before upload iff
//       Bernoulli(p) from (seed, "client_dropout", r, u).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace fedrec {

struct CohortPlan {
  uint64_t seed = 0;
  double sampling_rate = 0.01;  // Poisson q, used when clients_per_round == 0
  uint64_t clients_per_round = 0;
  double dropout_rate = 0.0;
};

// Whether client u of the population is sampled in `round` under Poisson
// sampling.
bool PoissonSampled(const CohortPlan& plan, uint32_t round, uint32_t client);

// The fixed-size cohort: positions in [0, population) of the sampled clients,
// ascending. Requires clients_per_round <= population (fewer are returned
// when the population is smaller).
std::vector<uint64_t> FixedCohortPositions(const CohortPlan& plan, uint32_t round,
                                           uint64_t population);

// The sampled members of `candidates` (dense user ids, ascending, a subset of
// `population`, which is ascending) in `round`, ascending. With a fixed
// cohort size `population` must be the whole population (every rank passes
// the same one); with Poisson sampling it is not read.
std::vector<uint32_t> SampleCohort(const CohortPlan& plan, uint32_t round,
                                   std::span<const uint32_t> population,
                                   std::span<const uint32_t> candidates);

// Whether sampled client u drops out before uploading in `round`.
bool DropsOut(const CohortPlan& plan, uint32_t round, uint32_t client);

}  // namespace fedrec
