#include "comm/launch.h"

#include <mpi.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "comm/factory.h"
#include "comm/local_collective.h"
#include "comm/mpi_collective.h"
#include "core/interrupt.h"
#include "core/status.h"
#if FEDREC_HAVE_NCCL
#include "comm/nccl_collective.h"
#endif

namespace fedrec {
namespace {

// A rank that gave up waiting for the others (collective.h, "Deadlines")
// cannot just return: a stalled rank never exits, so mpirun would wait for
// it forever, and MPI_Finalize may block on it too. This rank says why, in
// the command line's one-line format, and ends the whole job.
[[noreturn]] void EndJobAfterDeadline(const absl::Status& status) {
  if (!IsReportedByAnotherRank(status)) {
    const std::string message(status.message());
    std::fprintf(stderr, "fedrec: error: %s\n", EscapeForMessage(message).c_str());
  }
  std::fflush(stdout);
  std::fflush(stderr);
  // Under mpirun this rank's stderr reaches the terminal through Open MPI's
  // I/O forwarding, while MPI_Abort's notice takes another channel: without
  // a pause mpirun can print its abort banner before the line above, and
  // the user's first line is no longer ours. A quarter second on a path that
  // ends the job anyway lets the forwarding drain first.
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);  // MPI_Abort does not return; in case it does
}

// A worker rank whose run rank 0 ended (a stop carrying the reason, which
// rank 0 prints) must not exit before rank 0 has printed it: mpirun ends the
// whole job at the first non-zero exit, and could kill rank 0 before its
// line is out. So the worker waits (a signal now ends it silently) while
// rank 0 prints; rank 0 then waits for it in MPI_Finalize, so an error
// under mpirun ends the job about 2 s after its line.
void LetRankZeroReportFirst() {
  RestoreDefaultStopSignals();
  std::this_thread::sleep_for(std::chrono::seconds(2));
}

// Rank r runs on thread r (rank 0 on the calling thread); returns rank 0's
// error if it failed, else the lowest failing rank's.
absl::Status RunThreads(int world_size, const std::function<absl::Status(int rank)>& run) {
  std::vector<absl::Status> status(static_cast<size_t>(world_size));
  std::vector<std::thread> threads;
  threads.reserve(status.size());
  for (int r = 1; r < world_size; ++r) {
    threads.emplace_back([&, r] { status[r] = run(r); });
  }
  status[0] = run(0);
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : status) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status RunLocal(int world_size,
                      const std::function<absl::Status(const LaunchPlan& plan)>& prepare,
                      const std::function<absl::Status(Collective& comm)>& rank_main) {
  if (world_size < 1) {
    return absl::InvalidArgumentError("comm: a local job needs at least one rank");
  }
  FEDREC_RETURN_IF_ERROR(
      prepare(LaunchPlan{.backend = "local", .collective = "local", .world_size = world_size}));
  FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<LocalCollectiveGroup> group,
                          LocalCollectiveGroup::Create(world_size));
  return RunThreads(world_size, [&](int r) { return rank_main(group->rank(r)); });
}

// backend.comm = "nccl": the ranks' sums go through NCCL, one GPU per rank.
// Under mpirun each process wraps its MPI rank (factory.cc); in one process
// rank r is thread r on device r, over a local group for the byte
// collectives.
absl::Status RunNccl(int local_world_size,
                     const std::function<absl::Status(const LaunchPlan& plan)>& prepare,
                     const std::function<absl::Status(Collective& comm)>& rank_main) {
#if FEDREC_HAVE_NCCL
  if (LaunchedUnderMpirun()) {
    FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<Collective> comm, CreateCollective("nccl"));
    FEDREC_RETURN_IF_ERROR(prepare(LaunchPlan{.backend = "mpi",
                                              .collective = "nccl",
                                              .world_size = comm->size(),
                                              .process_rank = comm->rank()}));
    absl::Status status = rank_main(*comm);
    if (status.code() == absl::StatusCode::kDeadlineExceeded) EndJobAfterDeadline(status);
    if (comm->rank() != 0 && IsReportedByAnotherRank(status)) LetRankZeroReportFirst();
    return status;
  }
  if (local_world_size < 1) {
    return absl::InvalidArgumentError("comm: a local job needs at least one rank");
  }
  // Refused before the data is loaded: NCCL needs a device per rank.
  FEDREC_ASSIGN_OR_RETURN(const int visible, VisibleCudaDeviceCount());
  if (visible < local_world_size) {
    return absl::FailedPreconditionError(
        "backend.comm: 'nccl' needs one GPU per rank: this job has " +
        std::to_string(local_world_size) + " ranks in one process (the coordinator and " +
        std::to_string(local_world_size - 1) + (local_world_size == 2 ? " worker" : " workers") +
        ") and this machine has " + std::to_string(visible) + " visible CUDA device" +
        (visible == 1 ? "" : "s") +
        " (use fewer workers, mpirun across nodes, or backend.comm = local)");
  }
  FEDREC_RETURN_IF_ERROR(prepare(
      LaunchPlan{.backend = "local", .collective = "nccl", .world_size = local_world_size}));
  FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<LocalCollectiveGroup> group,
                          LocalCollectiveGroup::Create(local_world_size));
  return RunThreads(local_world_size, [&](int r) -> absl::Status {
    Collective& control = group->rank(r);
    control.set_timeout(kNcclSetupTimeout);
    FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<NcclCollective> nccl,
                            NcclCollective::Create(control, r));
    nccl->set_timeout(std::chrono::milliseconds(0));
    return rank_main(*nccl);
  });
#else
  (void)local_world_size;
  (void)prepare;
  (void)rank_main;
  return CreateCollective("nccl").status();  // the factory's refusal: no NCCL in this build
#endif
}

}  // namespace

absl::Status RunRanks(const std::string& backend, int local_world_size,
                      const std::function<absl::Status(const LaunchPlan& plan)>& prepare,
                      const std::function<absl::Status(Collective& comm)>& rank_main) {
  // Decided from the launcher's environment before touching MPI: once
  // finalised, MPI cannot be initialised again in this process.
  if (backend == "nccl") return RunNccl(local_world_size, prepare, rank_main);
  const bool mpi = backend == "mpi" || (backend == "auto" && LaunchedAsMpiJob());
  if (!mpi) {
    if (backend == "auto" || backend == "local") {
      return RunLocal(local_world_size, prepare, rank_main);
    }
    return CreateCollective(backend).status();  // the factory's refusal for the name
  }
  FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<Collective> comm, CreateCollective("mpi"));
  FEDREC_RETURN_IF_ERROR(prepare(LaunchPlan{.backend = "mpi",
                                            .collective = "mpi",
                                            .world_size = comm->size(),
                                            .process_rank = comm->rank()}));
  absl::Status status = rank_main(*comm);
  if (status.code() == absl::StatusCode::kDeadlineExceeded) EndJobAfterDeadline(status);
  if (comm->rank() != 0 && IsReportedByAnotherRank(status)) LetRankZeroReportFirst();
  return status;
}

bool LaunchedAsMpiJob() { return LaunchedUnderMpirun() && MpirunWorldSize() > 1; }

int RanksOnThisNode() {
  if (const char* v = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) {
    const int n = std::atoi(v);
    if (n > 0) return n;
  }
  // Under srun there is no local size before MPI_Init, only the step's tasks
  // per node, e.g. "2(x3),1": the largest count never oversubscribes a node.
  if (std::getenv("PMIX_RANK") != nullptr || std::getenv("PMI_SIZE") != nullptr) {
    if (const char* v = std::getenv("SLURM_STEP_TASKS_PER_NODE")) {
      const int n = MaxTasksPerNode(v);
      if (n > 0) return n;
    }
  }
  return 1;
}

int MaxTasksPerNode(std::string_view tasks_per_node) {
  int best = 0;
  while (!tasks_per_node.empty()) {
    const size_t comma = tasks_per_node.find(',');
    std::string_view entry = tasks_per_node.substr(0, comma);
    tasks_per_node =
        comma == std::string_view::npos ? std::string_view() : tasks_per_node.substr(comma + 1);
    int n = 0;
    const auto [end, ec] = std::from_chars(entry.data(), entry.data() + entry.size(), n);
    if (ec != std::errc() || n <= 0) return 0;
    // The count may carry a repeat, "(xK)", which does not change it.
    const std::string_view rest(end, static_cast<size_t>(entry.data() + entry.size() - end));
    if (!rest.empty() && (rest.front() != '(' || rest.back() != ')')) return 0;
    best = std::max(best, n);
  }
  return best;
}

}  // namespace fedrec
