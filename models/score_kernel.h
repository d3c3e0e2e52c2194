// The one kernel every dot-product score is computed with: score(user, item)
// = state . row, where `state` is the user's d floats (SASRec's last hidden
// state) and `row` the item's embedding row.
//
// Why one kernel: float addition is not associative, so two ways of summing
// the same d products (a per-user dot, a GEMM) may differ in the last ulp and
// flip a near-tie between the target and another item. Every path that
// scores (ScoreAll, ScoreCandidates, blocked full-ranking evaluation, top-K
// recommendation) therefore sums in one order, fixed per build:
//
// - Builds whose ISA has FMA (x86-64-v3, the default where available): the
//   fused chain acc = 0; acc = fma(state[k], row[k], acc) for k = 0 .. d-1
//   (models/score_kernel_fma.h). A GEMM-style tile computes it exactly.
// - Other builds (baseline): the packet order
//     products in packets of 4 (x[4j..4j+3]); with P = d / 4 packets,
//     P == 0:  r = x0 + x1 + ... sequentially
//     P == 1:  a = p0
//     P >= 2:  a = p0, b = p1; a += p2, b += p3, a += p4, ... (pairs while
//              both exist); a = a + b; if P is odd, a += p(P-1)
//     r = (a0 + a2) + (a1 + a3), then r += x[4P], x[4P+1], ... sequentially
//   which is exactly the order of Eigen 3.4's vectorised dot product on an
//   SSE2 build (Redux.h, LinearVectorizedTraversal, predux<Packet4f>), so
//   the scores are bitwise what `row.dot(state)` gave there (pinned by a
//   test). Each product is rounded, then added: the file is compiled with
//   -ffp-contract=off so that no FMA contraction can sneak in.
//
// So one binary scores bitwise alike on every machine it runs on; builds for
// different ISAs may differ in the last ulp (as their models do).
// Thread-safe; ForceScoreKernelForTesting is for tests and benchmarks only.
#pragma once

#include <cstdint>

namespace fedrec {

// One score in the order above. d >= 1.
float ScoreDot(const float* state, const float* row, uint32_t d);

// out[i] = ScoreDot(state, rows + i * d, d) for i in [0, n).
void ScoreRows(const float* state, const float* rows, uint32_t d, uint32_t n, float* out);

// Blocked scores of `users` states (row-major, users x d) against the items
// [begin, end) of `rows` (row-major, one row per item), each score bitwise
// ScoreDot(state, row). For each user u, adds to greater[u] / ties[u] the
// number of items in the range scoring strictly above / equal to
// targets[u] (NaN scores count as neither), without storing the scores.
// Counts are kept in 32-bit lanes within a call: end - begin < 2^31.
void CountAgainstTargets(const float* states, uint32_t users, const float* rows, uint32_t d,
                         uint32_t begin, uint32_t end, const float* targets, uint64_t* greater,
                         uint64_t* ties);

// Which kernel scores: kFma (the fused order) in builds whose ISA has FMA;
// otherwise the packet order, with AVX2 where the CPU has it (two users'
// packets side by side in one register: per lane the very same multiplies
// and adds, so bitwise the same scores), else SSE2. Tests and benchmarks
// force each in turn; forcing changes the order of every function here
// (kSse2 / kAvx2 select the packet order in any build; kFma in a build
// without FMA, or kAvx2 on a CPU without AVX2, gives the automatic choice).
enum class ScoreKernelIsa { kAuto, kSse2, kAvx2, kFma };
ScoreKernelIsa ScoreKernelInUse();
// "fma", "avx2" or "sse2"; kAuto names the kernel in use.
const char* ScoreKernelName(ScoreKernelIsa isa);
void ForceScoreKernelForTesting(ScoreKernelIsa isa);

// out[u * (end - begin) + (i - begin)] = ScoreDot(states + u * d, rows + i * d)
// for the users x items [begin, end) block (what top-K recommendation scans).
void ScoreBlock(const float* states, uint32_t users, const float* rows, uint32_t d, uint32_t begin,
                uint32_t end, float* out);

}  // namespace fedrec
