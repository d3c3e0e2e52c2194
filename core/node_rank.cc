#include "core/node_rank.h"

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace fedrec {

int NodeLocalRank() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    int rank = -1;
    const char* end = value + std::strlen(value);
    const auto [stop, ec] = std::from_chars(value, end, rank);
    return ec == std::errc() && stop == end && rank >= 0 ? rank : -1;
  }
  return -1;
}

}  // namespace fedrec
