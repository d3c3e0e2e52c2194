// Linked into every fedrec executable and the Python module
// (cmake/FedrecTargets.cmake) and compiled for the baseline ISA. It runs
// before any other static initialiser of the program (priority 101), so
// before any instruction of the build's ISA can: a CPU without that ISA gets
// one line and exit code 2 instead of a SIGILL somewhere later.
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "core/isa.h"

namespace {

__attribute__((constructor(101))) void FedrecIsaGuard() {
  char line[512];
  fedrec::FormatIsaRefusal(std::getenv("FEDREC_TEST_CPU_LACKS"), line, sizeof(line) - 1);
  if (line[0] == '\0') return;
  const size_t n = std::strlen(line);
  line[n] = '\n';
  if (::write(STDERR_FILENO, line, n + 1) < 0) {
    // Nothing else could report it; the exit code still does.
  }
  ::_exit(2);
}

}  // namespace
