// A process-wide request to stop long work at its next safe point: the
// trainers check it between rounds (federated) or epochs (central), write a
// checkpoint of the last finished one and end the run normally, so that
// `--resume` continues it exactly.
//
// Set by a signal handler (InstallStopSignals, async-signal-safe) or by any
// thread (the Python binding on KeyboardInterrupt); thread-safe.
#pragma once

namespace fedrec {

void RequestStop();
bool StopRequested();
void ClearStopRequest();

// For the command line: the first SIGINT or SIGTERM requests a stop and
// writes one line to stderr; a second one ends the process at once (the
// default action). Call once, early in main.
void InstallStopSignals();

// For a process whose work is over (it only waits to be ended): SIGINT and
// SIGTERM take their default action again, ending it at once and silently.
void RestoreDefaultStopSignals();

}  // namespace fedrec
