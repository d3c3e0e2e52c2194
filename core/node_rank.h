// This process's index among the processes of its job on the same node, as
// the launcher announces it (OMPI_COMM_WORLD_LOCAL_RANK under mpirun,
// MPI_LOCALRANKID under MPICH/Hydra, SLURM_LOCALID under srun), read from
// the environment without starting MPI. Rooms that pick a per-node resource
// (a GPU) use it; thread-safe.
#pragma once

namespace fedrec {

// The node-local rank, or -1 when no launcher said (or said nonsense).
int NodeLocalRank();

}  // namespace fedrec
