#include "core/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace fedrec {
namespace {

// Lock-free, so that setting it from a signal handler is safe.
std::atomic<bool> g_stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void OnStopSignal(int signo) {
  if (g_stop_requested.exchange(true)) {
    // The second signal: the default action, now.
    ::signal(signo, SIG_DFL);
    ::raise(signo);
    return;
  }
  static constexpr char kMessage[] =
      "fedrec: stopping after the current round or epoch (a checkpoint is written; --resume "
      "continues); signal again to stop at once\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
}

}  // namespace

void RequestStop() { g_stop_requested.store(true); }
bool StopRequested() { return g_stop_requested.load(std::memory_order_relaxed); }
void ClearStopRequest() { g_stop_requested.store(false); }

void InstallStopSignals() {
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

void RestoreDefaultStopSignals() {
  struct sigaction action = {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

}  // namespace fedrec
