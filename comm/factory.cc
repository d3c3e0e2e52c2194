#include "comm/factory.h"

#include <string>
#include <utility>

#include "comm/mpi_collective.h"
#include "core/status.h"
#if FEDREC_HAVE_NCCL
#include "comm/nccl_collective.h"
#endif

namespace fedrec {
namespace {

constexpr char kLocalHint[] =
    "local runs have no single Collective: create a LocalCollectiveGroup and drive one rank per "
    "thread";

absl::StatusOr<std::unique_ptr<Collective>> CreateMpi() {
  FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<MpiCollective> mpi, MpiCollective::Create());
  return std::unique_ptr<Collective>(std::move(mpi));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Collective>> CreateCollective(const std::string& backend) {
  if (backend == "mpi") return CreateMpi();
  if (backend == "auto") {
    // Decide from the launcher's environment, before touching MPI: once
    // finalised, MPI cannot be initialised again in this process.
    const int world = MpirunWorldSize();
    if (LaunchedUnderMpirun() && world != 1) {
      FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<Collective> mpi, CreateMpi());
      if (mpi->size() > 1) return mpi;
    }
    return absl::InvalidArgumentError(
        std::string("comm: backend \"auto\": not launched under mpirun with more than one rank; ") +
        kLocalHint);
  }
  if (backend == "local") {
    return absl::InvalidArgumentError(std::string("comm: backend \"local\": ") + kLocalHint);
  }
  if (backend == "nccl") {
#if FEDREC_HAVE_NCCL
    if (!LaunchedUnderMpirun()) {
      return absl::InvalidArgumentError(
          std::string("backend.comm: 'nccl' outside mpirun: ") + kLocalHint +
          ", each wrapped in an NcclCollective with its own GPU (comm/launch.cc does)");
    }
    const int device = MpirunLocalRank();
    if (device < 0) {
      return absl::FailedPreconditionError(
          "backend.comm: 'nccl': the launcher did not say this rank's place on its node "
          "(OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID or SLURM_LOCALID), so its GPU is unknown");
    }
    FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<MpiCollective> mpi, MpiCollective::Create());
    // The set-up waits for every rank's GPU; bounded until the caller sets
    // the job's own timeout.
    mpi->set_timeout(kNcclSetupTimeout);
    FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<NcclCollective> nccl,
                            NcclCollective::Create(std::move(mpi), device));
    nccl->set_timeout(std::chrono::milliseconds(0));
    return std::unique_ptr<Collective>(std::move(nccl));
#else
    return absl::UnimplementedError(
        "backend.comm: 'nccl': this build has no NCCL (it was built without the CUDA toolkit "
        "or without NCCL); use auto, local or mpi");
#endif
  }
  return absl::InvalidArgumentError("comm: unknown backend \"" + backend +
                                    "\"; allowed: auto, local, mpi, nccl");
}

}  // namespace fedrec
