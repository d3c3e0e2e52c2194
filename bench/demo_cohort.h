// The demo's federated SASRec (examples/synth100k-sasrec.toml: d = 32, one
// block, one head, maxlen 50, dropout 0.2) over a 10,000-item catalogue, and
// a synthetic cohort for it: sequences of 5 to 200 uniform items from a
// fixed stream. Shared by the client-step benchmarks (client_step_bench,
// sasrec_gpu_bench) so that they measure the same work.
#pragma once

#include <cstdint>
#include <vector>

#include "core/random.h"
#include "models/model.h"
#include "models/sasrec_options.h"

namespace fedrec::bench {

inline SasRecOptions DemoSasRecOptions() {
  SasRecOptions o;
  o.num_items = 10000;
  o.dim = 32;
  o.blocks = 1;
  o.heads = 1;
  o.max_len = 50;
  o.dropout = 0.2;
  return o;
}

// `clients` views `seqs`: keep the cohort alive while they are used.
struct DemoCohort {
  std::vector<std::vector<uint32_t>> seqs;
  std::vector<UserSequence> clients;

  DemoCohort(size_t size, uint32_t num_items) : seqs(size) {
    RandomStream rng({2, "bench", 0, 0, 0});
    for (uint32_t u = 0; u < size; ++u) {
      seqs[u].resize(5 + rng.NextBelow(196));
      for (uint32_t& x : seqs[u]) x = rng.NextBelow(num_items);
      clients.push_back({u, seqs[u], {}});
    }
  }
};

}  // namespace fedrec::bench
