#include "comm/deadline.h"

#include <algorithm>
#include <cstdio>

namespace fedrec {

using std::chrono::milliseconds;

milliseconds TimeoutForRank(milliseconds timeout, int rank) {
  if (timeout <= milliseconds::zero() || rank == 0) return timeout;
  return timeout + std::max(milliseconds(5000), timeout / 10);
}

std::string DurationText(milliseconds duration) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.3f", static_cast<double>(duration.count()) / 1000.0);
  std::string s(text);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s + " s";
}

namespace {

// "rank 2", "ranks 2, 3"
std::string RanksText(const std::vector<int>& ranks) {
  std::string text = ranks.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < ranks.size(); ++i) text += (i ? ", " : "") + std::to_string(ranks[i]);
  return text;
}

}  // namespace

absl::Status RanksDidNotArrive(std::string_view op, const std::vector<int>& missing,
                               milliseconds timeout) {
  return absl::DeadlineExceededError(RanksText(missing) + " did not reach the " + std::string(op) +
                                     " within " + DurationText(timeout) + " (stalled or stopped)");
}

absl::Status RanksStoppedInside(std::string_view op, const std::vector<int>& silent,
                                milliseconds timeout) {
  const std::string ranks = RanksText(silent);
  return absl::DeadlineExceededError(
      ranks + " stopped inside the " + std::string(op) +
      ": all ranks reached it, it did not complete within " + DurationText(timeout) + ", and " +
      ranks + (silent.size() == 1 ? " does" : " do") + " not answer (stalled or stopped)");
}

absl::Status CollectiveDidNotComplete(std::string_view op, milliseconds timeout) {
  return absl::DeadlineExceededError("all ranks reached the " + std::string(op) +
                                     "; it did not complete within " + DurationText(timeout) +
                                     " (a rank stalled or stopped inside it)");
}

absl::Status OthersDidNotArrive(int rank, std::string_view op, milliseconds timeout) {
  return absl::DeadlineExceededError(
      "rank " + std::to_string(rank) + " waited " + DurationText(timeout) +
      " for the other ranks in the " + std::string(op) +
      " (rank 0, which names the ranks that did not arrive, may itself have stalled)");
}

}  // namespace fedrec
