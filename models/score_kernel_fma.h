// The fused multiply-add scoring order, for builds whose instruction set has
// FMA (FEDREC_ISA=x86-64-v3 or native on an FMA machine). Internal to
// models/score_kernel.cc, which chooses it (score_kernel.h states the rule).
//
// Order: score(state, row) = the chain
//   acc = 0; for k = 0 .. d-1: acc = fma(state[k], row[k], acc)
// one rounding per step, k ascending. A GEMM-style tile computes exactly
// that per lane (items side by side in a register, k in the loop), so a
// blocked product, a single dot and a one-user row scan agree bitwise.
//
// Thread-safe: pure functions (packing space is per thread).
#pragma once

#include <cstdint>

namespace fedrec::score_fma {

// True when this build compiled the FMA kernels (the ISA has FMA and AVX2).
bool Compiled();

// The functions below exist in every build; without FMA they are never
// called (score_kernel.cc checks Compiled()).
float Dot(const float* state, const float* row, uint32_t d);
void Count(const float* states, uint32_t users, const float* rows, uint32_t d, uint32_t begin,
           uint32_t end, const float* targets, uint64_t* greater, uint64_t* ties);
void Block(const float* states, uint32_t users, const float* rows, uint32_t d, uint32_t begin,
           uint32_t end, float* out);

}  // namespace fedrec::score_fma
