// The instruction set this build was compiled for, and whether the CPU it
// runs on has it.
//
// The ISA is chosen once, at build time (CMake FEDREC_ISA: baseline,
// x86-64-v3 or native), for every room: one binary computes bitwise the same
// model for any thread count, worker count and under mpirun, on every machine
// that runs it. Builds for different ISAs give close but not bitwise-equal
// models (different vector widths change the order of float sums).
//
// core/isa.cc is compiled for the baseline ISA whatever FEDREC_ISA is, so
// that the check runs on any x86-64 CPU. Every executable and the Python
// module also link core/isa_guard.cc, which runs the check before any other
// static initialiser and exits 2 with one line when the CPU lacks a feature.
// The check path uses only C strings and internal-linkage code: an inline
// C++ template shared with the rest of the program could be the copy the
// linker kept from a TU compiled for the wider ISA.
// Thread-safe (pure functions of the CPU and the build).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace fedrec {

// "baseline", "x86-64-v3" or "native", as configured.
const char* BuildIsa();

// The CPU features this build's compiler was allowed to use beyond the
// baseline, space-separated by their usual names ("avx avx2 bmi bmi2 f16c fma
// lzcnt movbe ..."); empty for the baseline.
const char* BuildIsaFeatureList();

// BuildIsa() plus, for "native", the features: "x86-64-v3",
// "native (avx avx2 fma ...)". What summary.json, run.json, checkpoints and
// `fedrec --version` record.
std::string BuildIsaDescription();

// Writes into `out` (NUL-terminated, truncated to out_size) the features of
// BuildIsaFeatureList() that this CPU, or its OS for the vector register
// state, does not provide, comma-separated; returns how many. Features named
// in `pretend_missing` (a comma list, FEDREC_TEST_CPU_LACKS in the guard)
// count as missing, for tests of the refusal. No allocation.
size_t FindMissingIsaFeatures(const char* pretend_missing, char* out, size_t out_size);

// The one-line refusal ("fedrec: error: ..."), naming the build's ISA, the
// missing features and the way out; empty when nothing is missing. No
// allocation; `out` is NUL-terminated.
void FormatIsaRefusal(const char* pretend_missing, char* out, size_t out_size);

// FormatIsaRefusal as a std::string (for tests and messages after startup).
std::string IsaRefusal(const char* pretend_missing);

}  // namespace fedrec
