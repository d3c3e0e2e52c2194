#include "comm/factory.h"

#include <string>
#include <utility>

#include "comm/mpi_collective.h"
#include "core/status.h"

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
    return absl::UnimplementedError(
        "backend.comm: 'nccl' has no collective in this build (the GPU collective is not "
        "written yet); use auto, local or mpi");
  }
  return absl::InvalidArgumentError("comm: unknown backend \"" + backend +
                                    "\"; allowed: auto, local, mpi, nccl");
}

}  // namespace fedrec
