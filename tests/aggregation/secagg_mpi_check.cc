// Run under mpirun (ctest: aggregation_secagg_mpi_np3): rank 0 is the server,
// the other ranks host participants. Every rank knows every participant's
// (deterministic) input, so rank 0 can compare the secure sum with the plain
// sum. Exit code: 0 on every rank iff every case passed on every rank.
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "aggregation/secure_sum.h"
#include "comm/mpi_collective.h"

namespace fedrec::secagg {
namespace {

template <typename Word>
std::vector<Word> InputOf(uint64_t id, size_t length) {
  std::mt19937_64 gen(id * 104729 + 3);
  std::vector<Word> v(length);
  for (Word& w : v) w = static_cast<Word>(gen());
  return v;
}

struct Case {
  std::string name;
  SecaggParams params;
  int participants_per_worker;
  std::vector<int> drop_upload;  // participant indices
  std::vector<int> drop_unmask;
  bool expect_abort = false;
};

template <typename Word>
int RunCase(Collective& comm, const Case& c, uint64_t round) {
  const size_t length = 5003;
  const int workers = comm.size() - 1;
  const int n = workers * c.participants_per_worker;
  auto dropped = [](const std::vector<int>& list, int i) {
    for (int d : list) {
      if (d == i) return true;
    }
    return false;
  };
  std::vector<std::vector<Word>> inputs(static_cast<size_t>(n));
  std::vector<Word> expected(length, 0);
  std::vector<uint64_t> expected_ids;
  std::vector<HostedParticipant<Word>> hosted;
  for (int i = 0; i < n; ++i) {
    const uint64_t id = 500 + static_cast<uint64_t>(i) * 3;
    inputs[static_cast<size_t>(i)] = InputOf<Word>(id, length);
    if (!dropped(c.drop_upload, i)) {
      for (size_t k = 0; k < length; ++k) expected[k] += inputs[static_cast<size_t>(i)][k];
      expected_ids.push_back(id);
    }
    if (1 + i % workers == comm.rank()) {
      hosted.push_back({id, inputs[static_cast<size_t>(i)], dropped(c.drop_upload, i),
                        dropped(c.drop_unmask, i)});
    }
  }
  absl::StatusOr<SecureSumResult<Word>> r = RunSecureSum<Word>(
      comm, c.params, round, std::span<const HostedParticipant<Word>>(hosted), length);
  if (!r.ok()) {
    std::fprintf(stderr, "[rank %d] %s: %s\n", comm.rank(), c.name.c_str(),
                 std::string(r.status().ToString()).c_str());
    return 1;
  }
  if (r->aborted != c.expect_abort) {
    std::fprintf(stderr, "[rank %d] %s: aborted=%d (%s)\n", comm.rank(), c.name.c_str(), r->aborted,
                 r->abort_reason.c_str());
    return 1;
  }
  if (comm.rank() == 0 && !c.expect_abort &&
      (r->sum != expected || r->included_ids != expected_ids)) {
    std::fprintf(stderr, "[rank 0] %s: secure sum differs from the plain sum\n", c.name.c_str());
    return 1;
  }
  if (comm.rank() == 0) {
    std::printf("%-28s ok  (%s, %lld participants, %lld survivors)\n", c.name.c_str(),
                r->aborted ? "aborted" : "sum exact", static_cast<long long>(r->stats.participants),
                static_cast<long long>(r->stats.survivors));
  }
  return 0;
}

}  // namespace
}  // namespace fedrec::secagg

int main() {
  using namespace fedrec::secagg;
  absl::StatusOr<std::unique_ptr<fedrec::MpiCollective>> comm = fedrec::MpiCollective::Create();
  if (!comm.ok()) {
    std::fprintf(stderr, "secagg_mpi_check: %s\n", std::string(comm.status().ToString()).c_str());
    return 1;
  }
  fedrec::Collective& c = **comm;
  if (c.size() < 2) {
    std::fprintf(stderr, "secagg_mpi_check: needs at least 2 ranks\n");
    return 1;
  }
  SecaggParams harary;
  harary.graph = "harary";
  SecaggParams auth;
  auth.authenticate = true;
  SecaggParams b64;
  b64.bits = 64;
  SecaggParams plain;
  auto make = [](std::string name, const SecaggParams& params, int per_worker,
                 std::vector<int> drop_upload, std::vector<int> drop_unmask, bool expect_abort) {
    Case k;
    k.name = std::move(name);
    k.params = params;
    k.participants_per_worker = per_worker;
    k.drop_upload = std::move(drop_upload);
    k.drop_unmask = std::move(drop_unmask);
    k.expect_abort = expect_abort;
    return k;
  };
  uint32_t failures = 0;
  uint64_t round = 0;
  failures +=
      RunCase<uint32_t>(c, make("worker scope, complete", plain, 1, {}, {}, false), round++);
  failures += RunCase<uint64_t>(c, make("worker scope, 64-bit", b64, 1, {}, {}, false), round++);
  failures +=
      RunCase<uint32_t>(c, make("client scope, complete", plain, 7, {}, {}, false), round++);
  failures += RunCase<uint32_t>(c, make("client scope, harary", harary, 9, {}, {}, false), round++);
  failures +=
      RunCase<uint32_t>(c, make("client scope, authenticated", auth, 5, {}, {}, false), round++);
  failures += RunCase<uint32_t>(
      c, make("dropouts above threshold", plain, 10, {0, 3, 6}, {9}, false), round++);
  failures += RunCase<uint32_t>(
      c, make("dropouts below threshold", plain, 5, {0, 1, 2, 3, 4, 5}, {}, true), round++);
  absl::Status s = c.AllreduceSum(std::span<uint32_t>(&failures, 1));
  if (!s.ok()) return 1;
  if (c.rank() == 0) std::printf("%u failure(s)\n", failures);
  comm->reset();
  return failures == 0 ? 0 : 1;
}
