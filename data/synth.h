// Synthetic interaction data with structure a model can learn and a known
// answer, for tests, benchmarks and scale experiments (`fedrec data synth`).
//
// The generative model (items and users are 0-based here; the file is 1-based):
//   - Items are split into `clusters` contiguous id ranges: cluster c holds
//     items [c*M/C, (c+1)*M/C). Within a cluster, the item at rank r (its
//     offset in the range) has popularity weight 1/(r+1)^zipf_exponent.
//   - Each item i has `successors` successor items, drawn uniformly from its
//     own cluster (excluding i when the cluster has another item) from the
//     stream (seed, "synth_successors", 0, i, 0).
//   - User u draws from the stream (seed, "synth_user", 0, u, 0): a length
//     L = clamp(round(LogNormal(mu, length_sigma)), min_length, max_length)
//     with mu = ln(mean_length) - length_sigma^2/2 (so the unclamped mean is
//     mean_length); `interests_per_user` distinct clusters with weights from
//     Dirichlet(interest_alpha); then L items: the first, and with
//     probability 1 - p_markov each later one, is a fresh draw (cluster from
//     the user's weights, item from the cluster's Zipf law); otherwise it is
//     a uniform pick among the previous item's successors (first-order Markov).
//   - CSV only: rating 5 when the item's cluster is the user's heaviest, else
//     4, minus 1 with probability 0.2; timestamps start at 1e9 + U[0, 1e7)
//     and increase by 1 + U[0, 3600) per interaction.
// The output is a pure function of the options except `threads` and
// `block_users`: same seed -> same bytes, for any thread count.
//
// Output: SASRec text ("user item" lines, 1-based, grouped by user, in time
// order) or CSV with header "user,item,rating,timestamp". Users are
// generated in blocks in parallel and written in order through an
// AtomicFileWriter: memory is O(threads * block), and a failed run leaves no
// partial file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace fedrec {

enum class SynthFormat {
  kAuto,  // ".csv" extension -> kCsv, anything else -> kSasrec
  kSasrec,
  kCsv,
};

struct SynthOptions {
  uint32_t users = 1000;
  uint32_t items = 1000;
  uint64_t seed = 0;
  uint32_t clusters = 20;           // 1 <= clusters <= items
  double zipf_exponent = 1.0;       // >= 0; 0 = uniform within a cluster
  uint32_t interests_per_user = 3;  // clusters per user (capped at clusters)
  double interest_alpha = 0.5;      // Dirichlet concentration of the interests
  double p_markov = 0.5;            // in [0, 1]
  uint32_t successors = 3;          // per item, >= 1
  double mean_length = 25.0;        // >= min_length
  double length_sigma = 0.8;        // log-normal shape, >= 0
  uint32_t min_length = 3;          // >= 1
  uint32_t max_length = 2000;       // >= min_length
  SynthFormat format = SynthFormat::kAuto;
  int threads = 0;              // 0: all hardware threads
  uint32_t block_users = 2048;  // users per parallel work unit, >= 1
};

// InvalidArgument "synth: <what>" when an option is out of range.
absl::Status ValidateSynthOptions(const SynthOptions& options);

// Generates the dataset described above into `out_path` (atomically).
absl::Status WriteSyntheticDataset(const SynthOptions& options, const std::string& out_path);

// The model's known answer, for tests and evaluation (0-based item ids):
// the cluster of an item and its successor list.
uint32_t SynthClusterOf(const SynthOptions& options, uint32_t item);
std::vector<uint32_t> SynthSuccessors(const SynthOptions& options, uint32_t item);

}  // namespace fedrec
