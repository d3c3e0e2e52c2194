// Options of the SASRec model (Kang & McAuley, ICDM 2018).
#pragma once

#include <cstdint>
#include <memory>

#include "core/status.h"
#include "models/item_repr.h"
#include "models/negatives.h"

namespace fedrec {

enum class SasRecLoss {
  kBce,   // the paper: BCE on (target, one sampled negative) per position
  kCe,    // softmax cross-entropy: sampled (ce_negatives > 0) or full catalogue
  kGbce,  // gSASRec's gBCE against ce_negatives sampled negatives
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
  // kCe and kGbce: negatives shared by all positions of a sequence (drawn
  // from items not in the user's sequence, models/sequence_losses.h); kCe
  // with 0 = full softmax over the whole catalogue. kGbce needs >= 1.
  uint32_t ce_negatives = 0;
  // Sampled kCe and kGbce: ce_negatives drawn for every position instead of
  // one set shared by the sequence (gSASRec's setting; L x k gathered rows).
  bool negatives_per_position = false;
  // A separate output embedding "out_emb" (num_items x d, sparse, the last
  // tensor of the store; item_repr id only) scores the hidden states; the
  // input "item_emb" then only embeds the sequence (gSASRec's default).
  bool separate_output = false;
  NegativeSampler sampler = NegativeSampler::kUniform;
  // kCe and kGbce: cosine logits (L2-normalised hidden state and item rows,
  // also in scoring) and the temperature tau dividing every logit.
  bool normalize = false;
  double temperature = 1.0;
  double gbce_t = 0.75;  // kGbce: calibration t in [0, 1]
  // Per-use L2 on item-embedding rows: every example adds
  // 0.5 * l2_emb * ||row||^2 for each item row it reads (its input item,
  // target and negatives). 0 = off (the paper's default for ML-1M).
  double l2_emb = 0;
  // id (the item_emb table), text (Adapter(features)) or id+text; see
  // models/item_repr.h. With text modes l2_emb applies to the item rows the
  // computation reads (the adapted representations).
  ItemReprOptions item_repr = {};
  // Items never drawn as negatives nor counted in the full softmax
  // (SasRecModel::SetNegativeExclusions); null = none. Data, not part of the
  // model spec.
  std::shared_ptr<const ExcludedItems> excluded;
};

// InvalidArgument "sasrec: <field>: <why>" for an unusable combination.
absl::Status ValidateSasRecOptions(const SasRecOptions& options);

}  // namespace fedrec
