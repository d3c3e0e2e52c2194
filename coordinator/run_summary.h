// What a federated run says about itself: the start-of-run log lines, one
// metrics.jsonl line per round, and summary.json. Pure formatting of values
// the coordinator computed; no I/O except logging. Thread-compatible.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "coordinator/federation_setup.h"
#include "core/status.h"
#include "privacy/adaptive_clip.h"
#include "privacy/gaussian.h"
#include "privacy/ledger.h"
#include "worker/round_sum.h"
#include "worker/worker.h"

namespace fedrec {

// Seconds of a round (or of a session, summed) by phase.
struct PhaseSeconds {
  double broadcast = 0, local_train = 0, encode = 0, allreduce = 0, straggler_wait = 0,
         decode_update = 0, eval = 0, checkpoint = 0, secagg = 0;
  nlohmann::json Json() const;
  void Add(const PhaseSeconds& other);
};

// One round between its sum and its metrics line.
struct RoundOutcome {
  RoundSumOutcome sum;
  WorkerRoundStats stats;        // summed over workers (seconds: the slowest)
  double fastest_allreduce = 0;  // the fastest worker's time in the sum
  std::string withheld;          // why the round released nothing (empty: released)
  std::optional<double> epsilon;
};

// The session's totals, for summary.json.
struct RunTotals {
  uint32_t rounds_this_session = 0;
  uint32_t last_round = 0;
  uint64_t best_round = 0;
  PhaseSeconds seconds;
  uint64_t uploaded = 0, sampled = 0;
  double wall_seconds = 0;
  std::string model_sha256;
  std::string stop_reason;
  bool interrupted = false;  // stopped by a signal or KeyboardInterrupt
  // Rounds that released nothing: secure aggregation aborted, or (also
  // counted in withheld) distributed DP short of noise shares.
  uint64_t aborted_rounds = 0, withheld_rounds = 0;
};

// The run's configuration in a few log lines (workers, cohort, aggregation,
// privacy, clipping, and a loud warning when the DP noise is pinned).
void LogRunStart(const FederationSetup& setup);

// Round `round`'s metrics.jsonl line.
nlohmann::json RoundMetricsLine(uint32_t round, double clip, const RoundOutcome& outcome,
                                const PhaseSeconds& seconds, double round_seconds,
                                const privacy::AdaptiveClip* clip_rule);

// summary.json: the run, the best model's validation and test metrics, the
// session's cost, and privacy (ledger, noise and clipping when present).
absl::StatusOr<nlohmann::json> FederatedSummary(
    const FederationSetup& setup, const RunTotals& totals, const nlohmann::json& valid_at_best,
    const nlohmann::json& test_at_best, const privacy::PrivacyLedger* ledger,
    const privacy::GaussianNoise* noise, const privacy::AdaptiveClip* clip_rule);

}  // namespace fedrec
