#include "comm/mpi_collective.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>
#include <utility>

#include "core/status.h"

namespace fedrec {
namespace {

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
    : comm_(comm), rank_(rank), size_(size), owns_mpi_(owns_mpi), max_chunk_(max_chunk) {}

MpiCollective::~MpiCollective() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  MPI_Comm_free(&comm_);
  if (owns_mpi_) MPI_Finalize();
}

absl::Status MpiCollective::AllreduceChunked(void* data, size_t count, size_t elem_size,
                                             MPI_Datatype type) {
  char* bytes = static_cast<char*>(data);
  for (size_t done = 0; done < count;) {
    const size_t n = std::min(max_chunk_, count - done);
    FEDREC_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, bytes + done * elem_size, static_cast<int>(n),
                                   type, MPI_SUM, comm_));
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

absl::Status MpiCollective::Broadcast(std::string* bytes, int root) {
  if (bytes == nullptr) return absl::InvalidArgumentError("comm: mpi Broadcast: null bytes");
  FEDREC_RETURN_IF_ERROR(CheckRoot(root, "Broadcast"));
  uint64_t length = bytes->size();
  FEDREC_MPI_CHECK(MPI_Bcast(&length, 1, MPI_UINT64_T, root, comm_));
  if (rank_ != root) bytes->resize(length);
  for (uint64_t done = 0; done < length;) {
    const uint64_t n = std::min<uint64_t>(max_chunk_, length - done);
    FEDREC_MPI_CHECK(MPI_Bcast(bytes->data() + done, static_cast<int>(n), MPI_BYTE, root, comm_));
    done += n;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int>> MpiCollective::ExchangeSizes(const std::string& bytes,
                                                              const char* op) {
  // Every rank gets the lengths (Allgather even for Gather), so every rank
  // can refuse an oversized total alike instead of leaving others hanging.
  const uint64_t mine = bytes.size();
  std::vector<uint64_t> lengths(static_cast<size_t>(size_));
  FEDREC_MPI_CHECK(MPI_Allgather(&mine, 1, MPI_UINT64_T, lengths.data(), 1, MPI_UINT64_T, comm_));
  uint64_t total = 0;
  std::vector<int> sizes;
  sizes.reserve(lengths.size());
  for (uint64_t length : lengths) {
    total += length;
    sizes.push_back(static_cast<int>(length));
  }
  if (total > static_cast<uint64_t>(INT_MAX)) {
    return absl::OutOfRangeError(std::string("comm: mpi ") + op + ": " + std::to_string(total) +
                                 " bytes in all exceed MPI's int displacements");
  }
  return sizes;
}

namespace {

// Splits one buffer of concatenated messages by `sizes`, computing offsets.
std::vector<int> Displacements(const std::vector<int>& sizes) {
  std::vector<int> displs(sizes.size());
  int offset = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    displs[i] = offset;
    offset += sizes[i];
  }
  return displs;
}

std::vector<std::string> Split(const std::string& buffer, const std::vector<int>& sizes,
                               const std::vector<int>& displs) {
  std::vector<std::string> out;
  out.reserve(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    out.emplace_back(buffer, static_cast<size_t>(displs[i]), static_cast<size_t>(sizes[i]));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> MpiCollective::Gather(const std::string& bytes, int root) {
  FEDREC_RETURN_IF_ERROR(CheckRoot(root, "Gather"));
  FEDREC_ASSIGN_OR_RETURN(std::vector<int> sizes, ExchangeSizes(bytes, "Gather"));
  const std::vector<int> displs = Displacements(sizes);
  std::string buffer;
  if (rank_ == root) buffer.resize(static_cast<size_t>(displs.back() + sizes.back()));
  FEDREC_MPI_CHECK(MPI_Gatherv(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE,
                               buffer.data(), sizes.data(), displs.data(), MPI_BYTE, root, comm_));
  if (rank_ != root) return std::vector<std::string>{};
  return Split(buffer, sizes, displs);
}

absl::StatusOr<std::vector<std::string>> MpiCollective::Allgather(const std::string& bytes) {
  FEDREC_ASSIGN_OR_RETURN(std::vector<int> sizes, ExchangeSizes(bytes, "Allgather"));
  const std::vector<int> displs = Displacements(sizes);
  std::string buffer(static_cast<size_t>(displs.back() + sizes.back()), '\0');
  FEDREC_MPI_CHECK(MPI_Allgatherv(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE,
                                  buffer.data(), sizes.data(), displs.data(), MPI_BYTE, comm_));
  return Split(buffer, sizes, displs);
}

absl::Status MpiCollective::Barrier() {
  FEDREC_MPI_CHECK(MPI_Barrier(comm_));
  return absl::OkStatus();
}

}  // namespace fedrec
