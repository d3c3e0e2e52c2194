#include "worker/round_sum.h"

#include <span>

namespace fedrec {
namespace {

// Sums `words` (mod 2^bits) over ranks in place.
absl::Status AllreduceWords(Collective& comm, int bits, std::vector<uint64_t>& words) {
  if (bits == 64) return comm.AllreduceSum(std::span<uint64_t>(words));
  std::vector<uint32_t> narrow(words.size());
  for (size_t i = 0; i < words.size(); ++i) narrow[i] = static_cast<uint32_t>(words[i]);
  FEDREC_RETURN_IF_ERROR(comm.AllreduceSum(std::span<uint32_t>(narrow)));
  for (size_t i = 0; i < words.size(); ++i) words[i] = narrow[i];
  return absl::OkStatus();
}

template <typename Word>
absl::StatusOr<RoundSumOutcome> SecureSumAs(Collective& comm, const RoundRules& rules,
                                            uint32_t round,
                                            const std::vector<RoundParticipant>& parts,
                                            size_t length) {
  std::vector<std::vector<Word>> narrow(parts.size());
  std::vector<secagg::HostedParticipant<Word>> hosted(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    narrow[i].assign(length, 0);
    if (parts[i].words != nullptr) {
      for (size_t j = 0; j < length; ++j) narrow[i][j] = static_cast<Word>((*parts[i].words)[j]);
    }
    hosted[i] = {.id = parts[i].id,
                 .input = narrow[i],
                 .drops_before_upload = parts[i].drops_before_upload,
                 .drops_before_unmask = false};
  }
  FEDREC_ASSIGN_OR_RETURN(
      secagg::SecureSumResult<Word> r,
      secagg::RunSecureSum<Word>(comm, rules.secagg_params(), round,
                                 std::span<const secagg::HostedParticipant<Word>>(hosted), length));
  RoundSumOutcome out;
  out.secure = true;
  out.aborted = r.aborted;
  out.abort_reason = r.abort_reason;
  out.sum.assign(r.sum.begin(), r.sum.end());
  out.stats = r.stats;
  return out;
}

}  // namespace

absl::StatusOr<RoundSumOutcome> SumRound(Collective& comm, const RoundRules& rules, uint32_t round,
                                         const std::vector<RoundParticipant>& participants,
                                         size_t length) {
  if (rules.secure()) {
    if (rules.bits() == 64) return SecureSumAs<uint64_t>(comm, rules, round, participants, length);
    return SecureSumAs<uint32_t>(comm, rules, round, participants, length);
  }
  RoundSumOutcome out;
  out.sum.assign(length, 0);
  const uint64_t mask = rules.bits() == 64 ? ~uint64_t{0} : (uint64_t{1} << rules.bits()) - 1;
  for (const RoundParticipant& p : participants) {
    if (p.words == nullptr) continue;
    for (size_t j = 0; j < length; ++j) out.sum[j] = (out.sum[j] + (*p.words)[j]) & mask;
  }
  FEDREC_RETURN_IF_ERROR(AllreduceWords(comm, rules.bits(), out.sum));
  if (comm.rank() != 0) out.sum.clear();
  return out;
}

}  // namespace fedrec
