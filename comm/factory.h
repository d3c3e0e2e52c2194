// Picks a Collective backend by name. The only place outside tests that names
// a backend: algorithms take a Collective& and stay backend-agnostic.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "comm/collective.h"

namespace fedrec {

// How long an NCCL set-up waits for the other ranks' GPUs.
inline constexpr std::chrono::milliseconds kNcclSetupTimeout{std::chrono::minutes(5)};

// backend:
//   "mpi"   MpiCollective over MPI_COMM_WORLD (initialises MPI).
//   "auto"  "mpi" when launched under mpirun with a world size > 1; otherwise
//           InvalidArgument: a local run has no single Collective, it drives
//           the ranks of a LocalCollectiveGroup from its own threads.
//   "local" InvalidArgument, for the same reason.
//   "nccl"  under mpirun: an NcclCollective on this rank's node-local GPU
//           (MpirunLocalRank) with an MpiCollective for the byte
//           collectives; its set-up waits at most kNcclSetupTimeout, then
//           the collective waits forever until set_timeout. Outside
//           mpirun InvalidArgument, as "local". Unimplemented in a build
//           without NCCL.
// Anything else: InvalidArgument listing the allowed names.
absl::StatusOr<std::unique_ptr<Collective>> CreateCollective(const std::string& backend);

}  // namespace fedrec
