// A memory estimate made before a model is allocated, so that a size the
// machine cannot hold (model.dim = 2^31, data.max_len = 10^8) is refused
// with a message naming the key instead of ending in std::bad_alloc or in a
// process growing until the kernel kills it.
//
// It is an estimate and deliberately a lower bound: it counts the model's
// parameters from their shapes, and per replica the gradient and optimiser
// buffers every trainer holds. Activations (which grow with the longest
// sequence actually seen), the dataset, evaluation scratch and per-client
// state are not counted, so a run refused by it could never have fitted,
// while a run it accepts may still need more than it says.
#pragma once

#include <cstdint>

#include "core/config.h"
#include "core/status.h"

namespace fedrec {

// Floats of the model `config` describes for a dataset of this size (and,
// for model.item_repr text / id+text, items with `feature_dim` features),
// from the shapes the model classes allocate (tests hold the two together).
struct ParameterCount {
  double global = 0;        // aggregated parameters
  double local = 0;         // per-user parameters (MF user embeddings)
  double max_len_part = 0;  // of `global`: what grows with data.max_len
};
ParameterCount CountParameters(const Config& config, uint64_t num_users, uint64_t num_items,
                               uint32_t feature_dim = 0);

// Lower bound on the bytes one process holds for the model while training:
//   central:   (global + local) x (parameters + gradient + optimiser state:
//              2 for adam, 0 for sgd)
//   federated: the coordinator's model (global + local), plus for each worker
//              hosted in this process (all of them with local threads, one
//              under MPI) its replica, gradient and update (3 x global).
double EstimateTrainingBytes(const Config& config, uint64_t num_users, uint64_t num_items,
                             uint32_t workers_in_process, uint32_t feature_dim = 0);

// The memory a process may use: physical memory (sysconf), or the
// address-space limit (RLIMIT_AS) when that is lower.
uint64_t AvailableMemoryBytes();

// InvalidArgument naming the key to reduce (model.dim, or data.max_len when
// the positional table dominates) when EstimateTrainingBytes exceeds
// `limit_bytes` (0: AvailableMemoryBytes()).
absl::Status CheckTrainingMemory(const Config& config, uint64_t num_users, uint64_t num_items,
                                 uint32_t workers_in_process, uint32_t feature_dim = 0,
                                 uint64_t limit_bytes = 0);

}  // namespace fedrec
