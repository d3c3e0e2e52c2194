// GRU4Rec's option checks and loss names, apart from the model's code.
#include <cmath>
#include <string>

#include "core/status.h"
#include "models/gru4rec.h"

namespace fedrec {

absl::StatusOr<SeqLoss> ParseSeqLoss(const std::string& name) {
  if (name == "bpr") return SeqLoss::kBpr;
  if (name == "ce") return SeqLoss::kCe;
  if (name == "gbce") return SeqLoss::kGbce;
  return absl::InvalidArgumentError("loss '" + name + "' is not one of: bpr, ce, gbce");
}

const char* SeqLossName(SeqLoss loss) {
  switch (loss) {
    case SeqLoss::kBpr:
      return "bpr";
    case SeqLoss::kCe:
      return "ce";
    case SeqLoss::kGbce:
      return "gbce";
  }
  return "?";
}

absl::Status ValidateGru4RecOptions(const Gru4RecOptions& options) {
  const char* where = "model (gru4rec)";
  if (options.num_items == 0 || options.dim == 0 || options.layers == 0 || options.max_len == 0) {
    return InvalidInput(where, "num_items, dim, layers and max_len must be at least 1");
  }
  if (!(options.dropout >= 0 && options.dropout < 1)) {
    return InvalidInput(where, "dropout must be in [0, 1)");
  }
  if (options.loss != SeqLoss::kCe && options.negatives == 0) {
    return InvalidInput(
        where, std::string("the ") + SeqLossName(options.loss) + " loss needs at least 1 negative");
  }
  if (!(options.temperature > 0 && std::isfinite(options.temperature))) {
    return InvalidInput(where, "temperature must be > 0");
  }
  if (!(options.gbce_t >= 0 && options.gbce_t <= 1)) {
    return InvalidInput(where, "gbce_t must be in [0, 1]");
  }
  if (options.loss == SeqLoss::kBpr && (options.normalize || options.temperature != 1.0)) {
    return InvalidInput(where,
                        "normalisation and temperature apply to ce, sampled_softmax and gbce, "
                        "not to bpr");
  }
  if (options.sampler == NegativeSampler::kPopularity &&
      (options.loss == SeqLoss::kBpr || options.negatives == 0)) {
    return InvalidInput(where, "popularity negatives apply to sampled_softmax and gbce");
  }
  if (options.negatives_per_position && (options.loss == SeqLoss::kBpr || options.negatives == 0)) {
    return InvalidInput(where,
                        "per-position negatives apply to sampled_softmax and gbce (bpr draws per "
                        "position anyway)");
  }
  if (options.separate_output && options.item_repr.repr != ItemRepr::kId) {
    return InvalidInput(where,
                        "a separate output embedding is a learned row per item: item_repr id only");
  }
  if (options.loss == SeqLoss::kGbce && options.num_items < 2) {
    return InvalidInput(where, "gbce needs at least two items");
  }
  if (!(options.init_std >= 0)) return InvalidInput(where, "init_std must be non-negative");
  return absl::OkStatus();
}

}  // namespace fedrec
