// Crash points for the crash tests (tests/crash/): with
//   FEDREC_CRASH_AT=<point>:<round>
// in the environment, the process SIGKILLs itself the first time it passes
// CrashPoint(<point>, <round>). Points, in the order a federated round
// passes them: "released" (the ledger journal holds the release),
// "metrics" (its metrics line is appended), "checkpoint" (ckpt-<round>
// is written). Without the variable a call is one load of a cached flag.
// Thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace fedrec {

void CrashPoint(std::string_view point, uint64_t round);

}  // namespace fedrec
