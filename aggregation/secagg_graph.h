// Who masks with whom in secure aggregation, and how many of a participant's
// neighbours must survive to unmask it.
//
// Graphs (over the n participants that advertised keys, at roster positions
// 0..n-1; the server draws the positions at random for the Harary graph):
//   complete  every pair shares a pairwise mask (Bonawitz et al. 2017).
//   harary    H(k, n), the k-regular Harary graph of SecAgg+ (Bell et al.
//             2020): position i is joined to i +- 1, ..., i +- k/2 (mod n),
//             and for odd k (n even) also to i + n/2. k = secagg.degree, or
//             when 0, k = 2 * ceil(log2 n) inflated by 1 / (1 - expected
//             dropout) and rounded up to even. Odd k with odd n is raised to
//             k + 1 (no k-regular graph exists). k >= n - 1 is the complete
//             graph.
// A participant's neighbourhood N(u) contains u itself (it keeps one share of
// its own secrets), so |N(u)| = d = k + 1.
//
// Threshold. Shamir shares of b_u (self mask) and s_u (mask key) go to N(u)
// with threshold t = max(ceil(secagg.threshold * d), floor(d / 2) + 1),
// capped at d. Why t must exceed d / 2: in the unmasking round each survivor
// reveals, per neighbour, the share of b_v if the server says v survived and
// the share of s_v if it says v dropped, never both. A server that tells half
// the neighbours "v dropped" and the other half "v survived" would otherwise
// collect t shares of each and learn v's input in the clear; with t > d / 2
// the two sets of t revealers would have to overlap, and an honest revealer
// gives only one kind per v. Hence secagg.threshold < 0.5 is refused, and 0.5
// means a strict majority.
//
// Dropouts: a round completes only if every survivor keeps >= t surviving
// neighbours (see protocol.h). With expected dropout rate q a neighbourhood
// keeps about (1 - q) d; PlanGraph reports a warning when that is below t
// (rounds would mostly abort) but does not refuse, so that experiments on
// aborting rounds stay possible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace fedrec::secagg {

// The secure-aggregation settings of a run (config section [secagg], plus the
// ring width of [aggregation] and the dropout rate of [federation]).
struct SecaggParams {
  int bits = 32;                   // ring Z_(2^bits): 32 or 64
  std::string graph = "complete";  // complete|harary
  int64_t degree = 0;              // harary: neighbours per participant, 0 = auto
  double threshold = 0.5;          // fraction of a neighbourhood needed to unmask, in [0.5, 1]
  bool authenticate = false;       // Ed25519-signed key advertisements
  double expected_dropout = 0.0;   // for the automatic degree and the warning, in [0, 1)
};

// InvalidArgument ("secagg.<key>: ...") unless the parameters are usable.
absl::Status ValidateSecaggParams(const SecaggParams& params);

// The graph of one round over n participants.
struct GraphPlan {
  size_t n = 0;
  bool complete = true;
  size_t degree = 0;         // k: neighbours per participant, excluding itself
  size_t neighbourhood = 0;  // d = k + 1
  size_t threshold = 0;      // t, with d / 2 < t <= d
  std::string warning;       // non-empty when (1 - expected_dropout) d < t
};

// The automatic Harary degree for n participants (before the cap at n - 1).
size_t AutoDegree(size_t n, double expected_dropout);

// The probability that a surviving participant keeps at least t surviving
// members in its neighbourhood (itself included) when every other member
// drops independently with probability `dropout`: P(Binomial(d - 1,
// 1 - dropout) >= t - 1). A round completes only if every survivor does, so
// this bounds the round's completion probability from above.
double NeighbourhoodSurvivalProbability(const GraphPlan& plan, double dropout);

// Plans the graph for n >= 1 participants; InvalidArgument for bad params.
absl::StatusOr<GraphPlan> PlanGraph(const SecaggParams& params, size_t n);

// The neighbourhood of position `pos` (itself included), sorted ascending.
std::vector<size_t> Neighbourhood(const GraphPlan& plan, size_t pos);

// Whether positions a and b are neighbours (a == b counts).
bool AreNeighbours(const GraphPlan& plan, size_t a, size_t b);

}  // namespace fedrec::secagg
