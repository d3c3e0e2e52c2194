// Picks a Collective backend by name. The only place outside tests that names
// a backend: algorithms take a Collective& and stay backend-agnostic.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "comm/collective.h"

namespace fedrec {

// backend:
//   "mpi"   MpiCollective over MPI_COMM_WORLD (initialises MPI).
//   "auto"  "mpi" when launched under mpirun with a world size > 1; otherwise
//           InvalidArgument: a local run has no single Collective, it drives
//           the ranks of a LocalCollectiveGroup from its own threads.
//   "local" InvalidArgument, for the same reason.
//   "nccl"  Unimplemented: no GPU collective in this build.
// Anything else: InvalidArgument listing the allowed names.
absl::StatusOr<std::unique_ptr<Collective>> CreateCollective(const std::string& backend);

}  // namespace fedrec
