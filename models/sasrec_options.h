// Options of the SASRec model (Kang & McAuley, ICDM 2018).
#pragma once

#include <cstdint>

#include "core/status.h"

namespace fedrec {

enum class SasRecLoss {
  kBce,  // the paper: BCE on (target, one sampled negative) per position
  kCe,   // softmax cross-entropy: sampled (ce_negatives > 0) or full catalogue
};

struct SasRecOptions {
  uint32_t num_items = 0;  // catalogue size (dense item ids 0..num_items-1)
  uint32_t dim = 50;       // d
  uint32_t blocks = 2;
  uint32_t heads = 1;  // must divide dim
  uint32_t max_len = 200;
  double dropout = 0.2;
  bool pre_ln = false;  // false: the official post-LN-style block; true: Pre-LN
  SasRecLoss loss = SasRecLoss::kBce;
  // kCe only: negatives per position (uniform over items not in the user's
  // sequence); 0 = full softmax over the whole catalogue.
  uint32_t ce_negatives = 0;
  // Per-use L2 on item-embedding rows: every example adds
  // 0.5 * l2_emb * ||row||^2 for each item row it reads (its input item,
  // target and negatives). 0 = off (the paper's default for ML-1M).
  double l2_emb = 0;
};

// InvalidArgument "sasrec: <field>: <why>" for an unusable combination.
absl::Status ValidateSasRecOptions(const SasRecOptions& options);

}  // namespace fedrec
