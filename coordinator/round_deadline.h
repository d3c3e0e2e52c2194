// A stalled rank ends a federated run: rank 0 words the collective's
// DeadlineExceeded (comm/collective.h, "Deadlines") with the round it
// happened in and the key that sets the deadline.
#pragma once

#include <cstdint>

#include "core/status.h"

namespace fedrec {

// `status` unchanged unless it is DeadlineExceeded; then, for round 12:
//   "round 12: rank 2 did not reach the gather within 60 s (stalled or
//    stopped); ending the job (federation.round_timeout_s)"
// Round 0 is "before the first round".
absl::Status InRound(const absl::Status& status, uint32_t round);

}  // namespace fedrec
