#include "models/memory_estimate.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "fmt/format.h"

namespace fedrec {

namespace {

// The leading item tensors of model.item_repr (models/item_repr.h): the id
// table (id, id+text) and the adapter (text, id+text) from f features.
double ItemTensors(const Config& config, double items, double d, double f) {
  const std::string& repr = config.model.item_repr;
  double n = repr == "text" ? 0 : items * d;
  if (repr != "id") {
    if (config.model.adapter == "mlp") {
      const double h = config.model.adapter_hidden > 0
                           ? static_cast<double>(config.model.adapter_hidden)
                           : 2 * d;
      n += f * h + h + 2 * h + h * d + d;  // w1, b1, LayerNorm gamma/beta, w2, b2
    } else {
      n += f * d + d;
    }
  }
  return n;
}

}  // namespace

ParameterCount CountParameters(const Config& config, uint64_t num_users, uint64_t num_items,
                               uint32_t feature_dim) {
  // Doubles: the products overflow no integer type for absurd settings.
  const double d = static_cast<double>(config.model.dim);
  const double len = static_cast<double>(config.data.max_len);
  const double blocks = static_cast<double>(config.model.blocks);
  const double items = static_cast<double>(num_items);
  const double users = static_cast<double>(num_users);
  const double item_tensors = ItemTensors(config, items, d, static_cast<double>(feature_dim));
  const double item_bias = config.model.item_repr == "text" ? 0 : items;
  ParameterCount c;
  const std::string& type = config.model.type;
  if (type == "sasrec") {
    // Item and position tables; per block two LayerNorms, Q/K/V and the
    // two FFN layers (5 d x d matrices, 9 d-vectors); the final LayerNorm.
    c.max_len_part = len * d;
    c.global = item_tensors + c.max_len_part + blocks * (5 * d * d + 9 * d) + 2 * d;
    if (config.model.output_embedding == "separate") c.global += items * d;  // out_emb
  } else if (type == "gru4rec") {
    // Item table (and out_emb when separate); per layer W_ih, W_hh (3d x d
    // each) and two 3d biases.
    const double out_emb = config.model.output_embedding == "separate" ? items * d : 0;
    c.global = item_tensors + blocks * (6 * d * d + 6 * d) + out_emb;
  } else if (type == "mf_bpr") {
    c.global = item_tensors + item_bias;
    c.local = users * d;
  } else if (type == "mf_rating") {
    c.global = items * (d + 1) + 1;
    c.local = users * (d + 1);
  }
  return c;
}

double EstimateTrainingBytes(const Config& config, uint64_t num_users, uint64_t num_items,
                             uint32_t workers_in_process, uint32_t feature_dim) {
  const ParameterCount c = CountParameters(config, num_users, num_items, feature_dim);
  constexpr double kFloat = sizeof(float);
  if (config.federation.mode == "central") {
    const double optimiser = config.train.optimizer == "adam" ? 2 : 0;
    return kFloat * (c.global + c.local) * (2 + optimiser);
  }
  return kFloat * ((c.global + c.local) + static_cast<double>(workers_in_process) * 3 * c.global);
}

uint64_t AvailableMemoryBytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  uint64_t bytes = pages > 0 && page_size > 0
                       ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size)
                       : UINT64_MAX;
  rlimit limit{};
  if (::getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    bytes = std::min<uint64_t>(bytes, limit.rlim_cur);
  }
  return bytes;
}

absl::Status CheckTrainingMemory(const Config& config, uint64_t num_users, uint64_t num_items,
                                 uint32_t workers_in_process, uint32_t feature_dim,
                                 uint64_t limit_bytes) {
  if (limit_bytes == 0) limit_bytes = AvailableMemoryBytes();
  const double need =
      EstimateTrainingBytes(config, num_users, num_items, workers_in_process, feature_dim);
  if (need <= static_cast<double>(limit_bytes)) return absl::OkStatus();
  const ParameterCount c = CountParameters(config, num_users, num_items, feature_dim);
  const bool max_len_dominates = c.max_len_part > (c.global + c.local) / 2;
  const char* key = max_len_dominates ? "data.max_len" : "model.dim";
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  return InvalidInput(
      "config",
      fmt::format("{}: training would need at least {:.3g} GiB for the model alone ({:.3g} "
                  "parameters for {} users and {} items, with gradients and optimiser state; an "
                  "estimate), more than the {:.3g} GiB of memory this process may use; reduce {}",
                  key, need / kGiB, c.global + c.local, num_users, num_items,
                  static_cast<double>(limit_bytes) / kGiB, key));
}

}  // namespace fedrec
