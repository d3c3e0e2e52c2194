// The sum of one round's encodings over the ranks: a plain allreduce mod
// 2^bits, or secure aggregation (aggregation/secure_sum.h) at worker scope
// (one participant per worker carrying its clients' summed encoding) or at
// client scope (one per sampled client, each masking its own encoding;
// dropped clients complete the key setup and vanish before upload).
//
// Collective calls: every rank of the job calls SumRound once per round, in
// the same order, with the same rules and length; rank 0 (the coordinator)
// hosts no participant. Stateless; thread-safe across distinct Collectives.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aggregation/secure_sum.h"
#include "comm/collective.h"
#include "core/status.h"
#include "worker/round_rules.h"

namespace fedrec {

struct RoundParticipant {
  uint64_t id = 0;
  const std::vector<uint64_t>* words = nullptr;  // nullptr: a dropped client
  bool drops_before_upload = false;
};

struct RoundSumOutcome {
  bool secure = false;
  bool aborted = false;  // secure aggregation fell below its threshold
  std::string abort_reason;
  std::vector<uint64_t> sum;  // rank 0: the round's sum (absent when aborted)
  secagg::SecureSumStats stats;
};

// Sums `participants`' words (length `length`) over the job. Without secure
// aggregation the participants' words are added locally first, then
// allreduced.
absl::StatusOr<RoundSumOutcome> SumRound(Collective& comm, const RoundRules& rules, uint32_t round,
                                         const std::vector<RoundParticipant>& participants,
                                         size_t length);

}  // namespace fedrec
