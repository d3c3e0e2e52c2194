#include "coordinator/round_deadline.h"

#include <string>

namespace fedrec {

absl::Status InRound(const absl::Status& status, uint32_t round) {
  if (status.code() != absl::StatusCode::kDeadlineExceeded) return status;
  const std::string where =
      round == 0 ? std::string("before the first round") : "round " + std::to_string(round);
  return absl::DeadlineExceededError(where + ": " + std::string(status.message()) +
                                     "; ending the job (federation.round_timeout_s)");
}

}  // namespace fedrec
