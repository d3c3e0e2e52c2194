#include "comm/mpi_collective.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>

#include "comm/deadline.h"
#include "core/node_rank.h"
#include "core/status.h"

namespace fedrec {
namespace {

using Clock = std::chrono::steady_clock;

// The point-to-point tag of arrival notes (MPI guarantees tags up to 32767).
// Collectives never match point-to-point messages, so the notes share the
// collectives' communicator safely.
constexpr int kArrivalTag = 31001;
// When every rank reached a collective that does not complete, rank 0 asks
// each rank whether it still runs (kPingTag) and ranks answer from their
// waits (kPongTag): a rank stopped inside the collective cannot.
constexpr int kPingTag = 31002;
constexpr int kPongTag = 31003;
// How long rank 0 waits for the answers, at most.
constexpr std::chrono::milliseconds kLongestPingWait(1000);
// The content of pings and answers (only their arrival counts); static, so
// a send never outlives its buffer.
const uint64_t kSignal = 1;

// Waiting: MPI_Test in a tight loop this long, then sleeps that double from
// kFirstPause up to kLongestPause between tests. A waiting rank then costs a
// few percent of a core; a longer pause adds its own length to the latency
// of a collective whose peers were late (with 1 ms, 2000 tiny rounds under
// mpirun -np 3 took 19% longer than with blocking MPI calls; with 0.2 ms,
// no difference beyond the noise).
constexpr std::chrono::microseconds kSpin(50);
constexpr std::chrono::microseconds kFirstPause(10);
constexpr std::chrono::microseconds kLongestPause(200);

std::string MpiErrorText(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) {
    return "MPI error code " + std::to_string(code);
  }
  return std::string(text, static_cast<size_t>(length));
}

absl::Status MpiError(int code, const char* call, const char* file, int line) {
  return absl::InternalError(std::string("comm: mpi: ") + call + " failed: " + MpiErrorText(code) +
                             " (" + file + ":" + std::to_string(line) + ")");
}

// Returns an InternalError from the enclosing function unless `call` succeeds.
#define FEDREC_MPI_CHECK(call)                                    \
  do {                                                            \
    int fedrec_mpi_rc_ = (call);                                  \
    if (fedrec_mpi_rc_ != MPI_SUCCESS) {                          \
      return MpiError(fedrec_mpi_rc_, #call, __FILE__, __LINE__); \
    }                                                             \
  } while (0)

int EnvInt(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return 0;
  char* end = nullptr;
  long parsed = std::strtol(value, &end, 10);
  if (*end != '\0' || parsed < 0 || parsed > INT_MAX) return 0;
  return static_cast<int>(parsed);
}

}  // namespace

bool LaunchedUnderMpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr ||
         std::getenv("PMIX_RANK") != nullptr;
}

int MpirunWorldSize() {
  int size = EnvInt("OMPI_COMM_WORLD_SIZE");
  if (size == 0) size = EnvInt("PMI_SIZE");
  // `srun --mpi=pmix` gives each task PMIX_RANK but announces the size only
  // in Slurm's own variables (the step's, then the job's).
  if (size == 0 && std::getenv("PMIX_RANK") != nullptr) {
    size = EnvInt("SLURM_STEP_NUM_TASKS");
    if (size == 0) size = EnvInt("SLURM_NTASKS");
  }
  return size;
}

int MpirunLocalRank() { return NodeLocalRank(); }

absl::StatusOr<std::unique_ptr<MpiCollective>> MpiCollective::Create(MPI_Comm comm,
                                                                     size_t max_chunk_elements) {
  if (max_chunk_elements < 1 || max_chunk_elements > (size_t{1} << 30)) {
    return absl::InvalidArgumentError("comm: mpi: max_chunk_elements must be in [1, 2^30], got " +
                                      std::to_string(max_chunk_elements));
  }
  int finalized = 0;
  FEDREC_MPI_CHECK(MPI_Finalized(&finalized));
  if (finalized) {
    return absl::FailedPreconditionError("comm: mpi: MPI was already finalised in this process");
  }
  int initialized = 0;
  FEDREC_MPI_CHECK(MPI_Initialized(&initialized));
  int provided = MPI_THREAD_SINGLE;
  bool owns_mpi = false;
  if (initialized) {
    FEDREC_MPI_CHECK(MPI_Query_thread(&provided));
  } else {
    FEDREC_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
    owns_mpi = true;
  }
  if (provided < MPI_THREAD_FUNNELED) {
    if (owns_mpi) MPI_Finalize();
    return absl::FailedPreconditionError("comm: mpi: the MPI library provides thread level " +
                                         std::to_string(provided) +
                                         ", fedrec needs at least MPI_THREAD_FUNNELED");
  }
  // From here on, failures must not leak an initialised MPI.
  auto fail = [owns_mpi](absl::Status status) {
    if (owns_mpi) MPI_Finalize();
    return status;
  };
  MPI_Comm dup = MPI_COMM_NULL;
  if (int rc = MPI_Comm_dup(comm, &dup); rc != MPI_SUCCESS) {
    return fail(MpiError(rc, "MPI_Comm_dup", __FILE__, __LINE__));
  }
  int rank = 0;
  int size = 0;
  int rc = MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN);
  if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(dup, &rank);
  if (rc == MPI_SUCCESS) rc = MPI_Comm_size(dup, &size);
  if (rc != MPI_SUCCESS) {
    MPI_Comm_free(&dup);
    return fail(MpiError(rc, "MPI_Comm_rank/size", __FILE__, __LINE__));
  }
  return std::unique_ptr<MpiCollective>(
      new MpiCollective(dup, rank, size, owns_mpi, max_chunk_elements));
}

MpiCollective::MpiCollective(MPI_Comm comm, int rank, int size, bool owns_mpi, size_t max_chunk)
    : comm_(comm),
      rank_(rank),
      size_(size),
      owns_mpi_(owns_mpi),
      max_chunk_(max_chunk),
      reached_(rank == 0 ? static_cast<size_t>(size) : 0, 0) {}

MpiCollective::~MpiCollective() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  Quiesce(std::chrono::milliseconds(broken_.ok() ? 1000 : 100));
  MPI_Comm_free(&comm_);
  if (owns_mpi_) MPI_Finalize();
}

absl::Status MpiCollective::Begin() {
  if (!broken_.ok()) return broken_;
  ++seq_;
  if (rank_ == 0) {
    reached_[0] = seq_;
    return ReadArrivalNotes();
  }
  FEDREC_RETURN_IF_ERROR(AnswerPings());
  // Notes rank 0 has taken are done with; the rest keep their buffers.
  while (!notes_.empty()) {
    int done = 0;
    FEDREC_MPI_CHECK(MPI_Test(&notes_.front().request, &done, MPI_STATUS_IGNORE));
    if (!done) break;
    notes_.pop_front();
  }
  ArrivalNote& note = notes_.emplace_back();
  note.seq = seq_;
  FEDREC_MPI_CHECK(MPI_Isend(&note.seq, 1, MPI_UINT64_T, 0, kArrivalTag, comm_, &note.request));
  return absl::OkStatus();
}

absl::Status MpiCollective::ReadArrivalNotes() {
  for (;;) {
    int pending = 0;
    MPI_Status status;
    FEDREC_MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, kArrivalTag, comm_, &pending, &status));
    if (!pending) return absl::OkStatus();
    uint64_t seq = 0;
    FEDREC_MPI_CHECK(
        MPI_Recv(&seq, 1, MPI_UINT64_T, status.MPI_SOURCE, kArrivalTag, comm_, MPI_STATUS_IGNORE));
    uint64_t& reached = reached_.at(static_cast<size_t>(status.MPI_SOURCE));
    reached = std::max(reached, seq);
  }
}

absl::Status MpiCollective::Wait(MPI_Request* request, const char* op,
                                 std::shared_ptr<CallBuffers> io) {
  const std::chrono::milliseconds limit = timeout();
  const Clock::time_point start = Clock::now();
  std::chrono::microseconds pause = kFirstPause;
  for (;;) {
    int done = 0;
    FEDREC_MPI_CHECK(MPI_Test(request, &done, MPI_STATUS_IGNORE));
    if (done) return absl::OkStatus();
    FEDREC_RETURN_IF_ERROR(rank_ == 0 ? ReadArrivalNotes() : AnswerPings());
    const Clock::duration waited = Clock::now() - start;
    if (limit > std::chrono::milliseconds::zero() && waited >= limit) break;
    if (waited >= kSpin) {
      std::this_thread::sleep_for(pause);
      pause = std::min(2 * pause, kLongestPause);
    }
  }
  // MPI cannot cancel a collective: the request stays active, and so does
  // any buffer it names; the group is unusable from here on.
  abandoned_.push_back(*request);
  if (io) kept_.push_back(std::move(io));
  if (rank_ != 0) {
    broken_ = OthersDidNotArrive(rank_, op, limit);
  } else {
    std::vector<int> missing;
    for (int r = 0; r < size_; ++r) {
      if (reached_[static_cast<size_t>(r)] < seq_) missing.push_back(r);
    }
    if (!missing.empty()) {
      broken_ = RanksDidNotArrive(op, missing, limit);
    } else {
      const std::vector<int> silent = RanksThatDoNotAnswer(std::min(limit, kLongestPingWait));
      broken_ = silent.empty() ? CollectiveDidNotComplete(op, limit)
                               : RanksStoppedInside(op, silent, limit);
    }
  }
  return broken_;
}

absl::Status MpiCollective::AnswerPings() {
  for (;;) {
    int pending = 0;
    FEDREC_MPI_CHECK(MPI_Iprobe(0, kPingTag, comm_, &pending, MPI_STATUS_IGNORE));
    if (!pending) return absl::OkStatus();
    uint64_t ping = 0;
    FEDREC_MPI_CHECK(MPI_Recv(&ping, 1, MPI_UINT64_T, 0, kPingTag, comm_, MPI_STATUS_IGNORE));
    MPI_Request request;
    FEDREC_MPI_CHECK(MPI_Isend(&kSignal, 1, MPI_UINT64_T, 0, kPongTag, comm_, &request));
    FEDREC_MPI_CHECK(MPI_Request_free(&request));  // completes on its own
  }
}

std::vector<int> MpiCollective::RanksThatDoNotAnswer(std::chrono::milliseconds wait) {
  std::vector<bool> answered(static_cast<size_t>(size_), false);
  answered[0] = true;
  for (int r = 1; r < size_; ++r) {
    MPI_Request request;
    if (MPI_Isend(&kSignal, 1, MPI_UINT64_T, r, kPingTag, comm_, &request) != MPI_SUCCESS ||
        MPI_Request_free(&request) != MPI_SUCCESS) {
      return {};  // no better answer than "did not complete"
    }
  }
  const Clock::time_point end = Clock::now() + wait;
  int missing = size_ - 1;
  while (missing > 0 && Clock::now() < end) {
    int pending = 0;
    MPI_Status status;
    if (MPI_Iprobe(MPI_ANY_SOURCE, kPongTag, comm_, &pending, &status) != MPI_SUCCESS) return {};
    if (!pending) {
      std::this_thread::sleep_for(kLongestPause);
      continue;
    }
    uint64_t pong = 0;
    if (MPI_Recv(&pong, 1, MPI_UINT64_T, status.MPI_SOURCE, kPongTag, comm_, MPI_STATUS_IGNORE) !=
        MPI_SUCCESS) {
      return {};
    }
    if (!answered[static_cast<size_t>(status.MPI_SOURCE)]) --missing;
    answered[static_cast<size_t>(status.MPI_SOURCE)] = true;
  }
  std::vector<int> silent;
  for (int r = 1; r < size_; ++r) {
    if (!answered[static_cast<size_t>(r)]) silent.push_back(r);
  }
  return silent;
}

void MpiCollective::Quiesce(std::chrono::milliseconds bound) {
  const Clock::time_point end = Clock::now() + bound;
  for (;;) {
    bool pending = false;
    if (rank_ == 0) {
      if (!ReadArrivalNotes().ok()) return;
      for (uint64_t reached : reached_) pending |= reached < seq_;
    }
    for (auto it = notes_.begin(); it != notes_.end();) {
      int done = 0;
      if (MPI_Test(&it->request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return;
      it = done ? notes_.erase(it) : std::next(it);
    }
    for (MPI_Request& request : abandoned_) {
      int done = 0;
      if (request != MPI_REQUEST_NULL &&
          MPI_Test(&request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        return;
    }
    pending = pending || !notes_.empty() ||
              std::any_of(abandoned_.begin(), abandoned_.end(),
                          [](MPI_Request r) { return r != MPI_REQUEST_NULL; });
    if (!pending || Clock::now() >= end) return;
    std::this_thread::sleep_for(kLongestPause);
  }
}

absl::Status MpiCollective::AllreduceChunked(void* data, size_t count, size_t elem_size,
                                             MPI_Datatype type) {
  FEDREC_RETURN_IF_ERROR(Begin());
  char* bytes = static_cast<char*>(data);
  for (size_t done = 0; done < count;) {
    const size_t n = std::min(max_chunk_, count - done);
    MPI_Request request;
    FEDREC_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, bytes + done * elem_size, static_cast<int>(n),
                                    type, MPI_SUM, comm_, &request));
    FEDREC_RETURN_IF_ERROR(Wait(&request, "allreduce"));
    done += n;
  }
  return absl::OkStatus();
}

absl::Status MpiCollective::AllreduceSum(std::span<uint32_t> data) {
  return AllreduceChunked(data.data(), data.size(), sizeof(uint32_t), MPI_UINT32_T);
}

absl::Status MpiCollective::AllreduceSum(std::span<uint64_t> data) {
  return AllreduceChunked(data.data(), data.size(), sizeof(uint64_t), MPI_UINT64_T);
}

absl::Status MpiCollective::CheckRoot(int root, const char* op) const {
  if (root >= 0 && root < size_) return absl::OkStatus();
  return absl::InvalidArgumentError(std::string("comm: mpi ") + op + ": root " +
                                    std::to_string(root) + " is not a rank of a group of " +
                                    std::to_string(size_));
}

// What a non-blocking call reads or writes until it completes, counts and
// displacements included: Wait keeps it alive past a timeout, when the
// abandoned request may still use it.
struct MpiCollective::CallBuffers {
  uint64_t length = 0;             // Broadcast: the length; ExchangeSizes: this rank's
  std::vector<uint64_t> lengths;   // ExchangeSizes: every rank's
  std::vector<int> sizes, displs;  // Gatherv / Allgatherv
  std::vector<char> gathered;      // Gatherv / Allgatherv: the messages, concatenated
};

absl::Status MpiCollective::Broadcast(std::string* bytes, int root) {
  if (bytes == nullptr) return absl::InvalidArgumentError("comm: mpi Broadcast: null bytes");
  FEDREC_RETURN_IF_ERROR(CheckRoot(root, "Broadcast"));
  FEDREC_RETURN_IF_ERROR(Begin());
  auto io = std::make_shared<CallBuffers>();
  io->length = bytes->size();
  MPI_Request request;
  FEDREC_MPI_CHECK(MPI_Ibcast(&io->length, 1, MPI_UINT64_T, root, comm_, &request));
  FEDREC_RETURN_IF_ERROR(Wait(&request, "broadcast", io));
  const uint64_t length = io->length;
  if (rank_ != root) bytes->resize(length);
  for (uint64_t done = 0; done < length;) {
    const uint64_t n = std::min<uint64_t>(max_chunk_, length - done);
    FEDREC_MPI_CHECK(
        MPI_Ibcast(bytes->data() + done, static_cast<int>(n), MPI_BYTE, root, comm_, &request));
    FEDREC_RETURN_IF_ERROR(Wait(&request, "broadcast"));
    done += n;
  }
  return absl::OkStatus();
}

absl::Status MpiCollective::ExchangeSizes(const std::string& bytes, const char* op,
                                          const std::shared_ptr<CallBuffers>& io) {
  // Every rank gets the lengths (Allgather even for Gather), so every rank
  // can refuse an oversized total alike instead of leaving others hanging.
  io->length = bytes.size();
  io->lengths.assign(static_cast<size_t>(size_), 0);
  MPI_Request request;
  FEDREC_MPI_CHECK(MPI_Iallgather(&io->length, 1, MPI_UINT64_T, io->lengths.data(), 1, MPI_UINT64_T,
                                  comm_, &request));
  FEDREC_RETURN_IF_ERROR(Wait(&request, op, io));
  uint64_t total = 0;
  io->sizes.clear();
  io->displs.clear();
  for (uint64_t length : io->lengths) total += length;
  if (total > static_cast<uint64_t>(INT_MAX)) {
    return absl::OutOfRangeError(std::string("comm: mpi ") + op + ": " + std::to_string(total) +
                                 " bytes in all exceed MPI's int displacements");
  }
  int offset = 0;
  for (uint64_t length : io->lengths) {
    io->sizes.push_back(static_cast<int>(length));
    io->displs.push_back(offset);
    offset += static_cast<int>(length);
  }
  io->gathered.assign(static_cast<size_t>(total), '\0');
  return absl::OkStatus();
}

namespace {

// Splits the concatenated messages by `sizes` at `displs`.
std::vector<std::string> Split(const std::vector<char>& buffer, const std::vector<int>& sizes,
                               const std::vector<int>& displs) {
  std::vector<std::string> out;
  out.reserve(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    out.emplace_back(buffer.data() + displs[i], static_cast<size_t>(sizes[i]));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> MpiCollective::Gather(const std::string& bytes, int root) {
  FEDREC_RETURN_IF_ERROR(CheckRoot(root, "Gather"));
  FEDREC_RETURN_IF_ERROR(Begin());
  auto io = std::make_shared<CallBuffers>();
  FEDREC_RETURN_IF_ERROR(ExchangeSizes(bytes, "gather", io));
  if (rank_ != root) io->gathered.clear();  // only the root receives
  MPI_Request request;
  FEDREC_MPI_CHECK(MPI_Igatherv(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE,
                                io->gathered.data(), io->sizes.data(), io->displs.data(), MPI_BYTE,
                                root, comm_, &request));
  FEDREC_RETURN_IF_ERROR(Wait(&request, "gather", io));
  if (rank_ != root) return std::vector<std::string>{};
  return Split(io->gathered, io->sizes, io->displs);
}

absl::StatusOr<std::vector<std::string>> MpiCollective::Allgather(const std::string& bytes) {
  FEDREC_RETURN_IF_ERROR(Begin());
  auto io = std::make_shared<CallBuffers>();
  FEDREC_RETURN_IF_ERROR(ExchangeSizes(bytes, "allgather", io));
  MPI_Request request;
  FEDREC_MPI_CHECK(MPI_Iallgatherv(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE,
                                   io->gathered.data(), io->sizes.data(), io->displs.data(),
                                   MPI_BYTE, comm_, &request));
  FEDREC_RETURN_IF_ERROR(Wait(&request, "allgather", io));
  return Split(io->gathered, io->sizes, io->displs);
}

absl::Status MpiCollective::Barrier() {
  FEDREC_RETURN_IF_ERROR(Begin());
  MPI_Request request;
  FEDREC_MPI_CHECK(MPI_Ibarrier(comm_, &request));
  return Wait(&request, "barrier");
}

}  // namespace fedrec
