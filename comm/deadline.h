// Deadlines on collective waits (collective.h, "Deadlines"): the errors both
// backends return when the other ranks do not come, and how long each rank
// of a job waits.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace fedrec {

// How long rank `rank` of a job waits, given the job's `timeout`. Rank 0 is
// the one that can name the ranks that did not arrive, so it waits exactly
// `timeout`; the other ranks wait a grace of max(5 s, 10%) longer, so that
// under MPI, where the first rank to give up ends the job, rank 0's message
// is normally the one printed. Zero (no deadline) stays zero.
std::chrono::milliseconds TimeoutForRank(std::chrono::milliseconds timeout, int rank);

// A duration as short text: "60 s", "1.5 s", "0.25 s".
std::string DurationText(std::chrono::milliseconds duration);

// The DeadlineExceeded errors, one line each:
//   "rank 2 did not reach the gather within 60 s (stalled or stopped)"
//   "ranks 2, 3 did not reach ..."
absl::Status RanksDidNotArrive(std::string_view op, const std::vector<int>& missing,
                               std::chrono::milliseconds timeout);
//   "all ranks reached the gather; it did not complete within 60 s (a rank
//    stalled or stopped inside it)"
absl::Status CollectiveDidNotComplete(std::string_view op, std::chrono::milliseconds timeout);
//   "rank 2 stopped inside the allreduce: all ranks reached it, it did not
//    complete within 60 s, and rank 2 does not answer (stalled or stopped)"
absl::Status RanksStoppedInside(std::string_view op, const std::vector<int>& silent,
                                std::chrono::milliseconds timeout);
//   "rank 1 waited 65 s for the other ranks in the broadcast (rank 0, which
//    names the ranks that did not arrive, may itself have stalled)"
absl::Status OthersDidNotArrive(int rank, std::string_view op, std::chrono::milliseconds timeout);

}  // namespace fedrec
