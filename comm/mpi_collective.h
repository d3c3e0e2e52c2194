// Open MPI backend: one rank per process, launched by mpirun (DESIGN.md,
// use 1). Only comm/factory.cc and tests include this header.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "comm/collective.h"

namespace fedrec {

// True when the process was started by mpirun/mpiexec or a PMI launcher
// (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK is set).
bool LaunchedUnderMpirun();

// The world size the launcher announced (OMPI_COMM_WORLD_SIZE or PMI_SIZE;
// under `srun --mpi=pmix`, SLURM_STEP_NUM_TASKS or SLURM_NTASKS), or 0 when it
// is not known without initialising MPI.
int MpirunWorldSize();

// Collective over a duplicate of an MPI communicator (MPI_COMM_WORLD by
// default), so fedrec's messages never mix with other users of the
// communicator. Errors on it are returned (MPI_ERRORS_RETURN) and converted to
// absl::InternalError carrying MPI_Error_string and file:line.
//
// AllreduceSum uses MPI_Allreduce with MPI_UINT32_T/MPI_UINT64_T and MPI_SUM:
// unsigned addition wraps, so the sum is exact mod 2^b whatever reduction tree
// the MPI library picks. MPI counts are int, so spans go in chunks of at most
// max_chunk_elements (2^27 by default) elements; byte payloads likewise.
//
// Threading: MPI is initialised with MPI_THREAD_FUNNELED; all calls on an
// MpiCollective (including its destruction) must come from the thread that
// created it. Several may coexist (each on its own duplicate communicator);
// the one that initialised MPI must be destroyed last.
class MpiCollective final : public Collective {
 public:
  static constexpr size_t kDefaultMaxChunkElements = size_t{1} << 27;

  // Initialises MPI (MPI_Init_thread, FUNNELED) unless it already is, in
  // which case the provided thread level is checked and MPI is reused.
  // FailedPrecondition if MPI provides less than FUNNELED or was finalised.
  // InvalidArgument unless 1 <= max_chunk_elements <= 2^30.
  static absl::StatusOr<std::unique_ptr<MpiCollective>> Create(
      MPI_Comm comm = MPI_COMM_WORLD, size_t max_chunk_elements = kDefaultMaxChunkElements);

  // Frees the duplicated communicator; finalises MPI if Create initialised it.
  ~MpiCollective() override;
  MpiCollective(const MpiCollective&) = delete;
  MpiCollective& operator=(const MpiCollective&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  absl::Status AllreduceSum(std::span<uint32_t> data) override;
  absl::Status AllreduceSum(std::span<uint64_t> data) override;
  absl::Status Broadcast(std::string* bytes, int root) override;
  absl::StatusOr<std::vector<std::string>> Gather(const std::string& bytes, int root) override;
  absl::StatusOr<std::vector<std::string>> Allgather(const std::string& bytes) override;
  absl::Status Barrier() override;
  std::string backend_name() const override { return "mpi"; }

  size_t max_chunk_elements() const { return max_chunk_; }

 private:
  MpiCollective(MPI_Comm comm, int rank, int size, bool owns_mpi, size_t max_chunk);
  absl::Status AllreduceChunked(void* data, size_t count, size_t elem_size, MPI_Datatype type);
  absl::Status CheckRoot(int root, const char* op) const;
  // Gathers every rank's message length (on all ranks) and checks that the
  // total fits MPI's int displacements, identically on every rank.
  absl::StatusOr<std::vector<int>> ExchangeSizes(const std::string& bytes, const char* op);

  MPI_Comm comm_;
  int rank_;
  int size_;
  bool owns_mpi_;
  size_t max_chunk_;
};

}  // namespace fedrec
