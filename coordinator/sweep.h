// Privacy-budget sweeps (DESIGN.md, use 3): `fedrec sweep --config FILE
// --epsilons 1,2,4,8,inf --out DIR`.
//
// For each target epsilon, in the order given: calibrate sigma so that
// federation.rounds rounds spend at most that epsilon (privacy.mode =
// "central", or "distributed" when the config says so; privacy.
// noise_multiplier = 0, privacy.target_epsilon = e; "inf" trains without
// noise), train into DIR/eps-<e>/, and read the test metrics
// of the best-on-validation model from its summary. After every point,
// DIR/sweep.csv (epsilon, epsilon_spent, sigma, rounds, HR@K, NDCG@K, full
// HR@K / NDCG@K, wall seconds) and DIR/sweep.svg (utility against epsilon)
// are rewritten atomically.
//
// Resumable: a point whose summary.json exists is not rerun; a point whose
// run directory exists without a summary (killed), or whose summary says it
// was interrupted, is resumed from its newest checkpoint. A stop request
// (SIGINT/SIGTERM, core/interrupt.h) ends the current run at a round
// boundary with a checkpoint and the sweep with Cancelled.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/status.h"

namespace fedrec {

struct SweepOptions {
  std::vector<double> epsilons;  // +inf allowed (no noise)
  std::string out_dir;
  bool quiet = false;
};

// "1,2,4,8,inf" -> {1, 2, 4, 8, inf}; InvalidArgument on anything else
// (values must be > 0, no duplicates).
absl::StatusOr<std::vector<double>> ParseEpsilons(const std::string& text);

// Runs the sweep; returns the rows written to sweep.csv as JSON.
absl::StatusOr<nlohmann::json> RunSweep(const Config& base, const SweepOptions& options);

}  // namespace fedrec
