#include "models/sequence_losses.h"

#include <cmath>
#include <string>

namespace fedrec::seqloss {

PopularityTable::PopularityTable(std::span<const uint64_t> counts)
    : counts_(counts.begin(), counts.end()), accept_(counts.size(), 1.0), alias_(counts.size()) {
  for (uint64_t c : counts) total_ += c;
  const size_t n = counts.size();
  for (size_t i = 0; i < n; ++i) alias_[i] = static_cast<uint32_t>(i);
  if (total_ == 0 || n == 0) return;
  // Vose's construction: scaled probabilities n * p_i; each "small" slot is
  // topped up by one "large" item. Deterministic (no randomness), so every
  // rank builds the same table from the same counts.
  std::vector<double> scaled(n);
  std::vector<uint32_t> small, large;
  for (size_t i = 0; i < n; ++i) {
    scaled[i] =
        static_cast<double>(counts[i]) * static_cast<double>(n) / static_cast<double>(total_);
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<uint32_t>(i));
  }
  while (!small.empty() && !large.empty()) {
    const uint32_t s = small.back(), l = large.back();
    small.pop_back();
    accept_[s] = scaled[s];
    alias_[s] = l;
    scaled[l] -= 1.0 - scaled[s];
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Leftovers are 1 up to rounding; a zero-count item is never among them
  // unless all counts are zero (handled above).
  for (uint32_t i : large) accept_[i] = 1.0;
  for (uint32_t i : small) accept_[i] = counts[i] == 0 ? 0.0 : 1.0;
}

void DrawSharedNegatives(RandomStream& stream, std::span<const uint32_t> items, uint32_t num_items,
                         const PopularityTable* table, uint32_t n, const ExcludedItems& excluded,
                         std::vector<uint8_t>& seen, std::vector<uint32_t>* out,
                         std::vector<double>* logq) {
  out->clear();
  if (logq != nullptr) logq->clear();
  if (seen.size() < num_items) seen.assign(num_items, 0);
  // `distinct` and `seen_mass`: the rejected items (the user's and the
  // excluded ones) and their popularity mass.
  uint32_t distinct = excluded.count();
  uint64_t seen_mass = 0;
  if (table != nullptr) {
    for (uint32_t e : excluded.items()) seen_mass += table->count(e);
  }
  for (uint32_t i : items) {
    if (seen[i] == 0 && !excluded.contains(i)) {
      if (table != nullptr) seen_mass += table->count(i);
      ++distinct;
    }
    seen[i] = 1;
  }
  if (distinct < num_items) {
    out->resize(n);
    const bool by_popularity = table != nullptr && seen_mass < table->total();
    for (uint32_t& neg : *out) {
      do {
        neg = by_popularity ? table->Draw(stream) : stream.NextBelow(num_items);
      } while (seen[neg] != 0 || excluded.contains(neg));
    }
    if (table != nullptr && logq != nullptr) {
      logq->resize(n);
      const double dn = static_cast<double>(n);
      for (uint32_t k = 0; k < n; ++k) {
        const double q = by_popularity ? static_cast<double>(table->count((*out)[k])) /
                                             static_cast<double>(table->total() - seen_mass)
                                       : 1.0 / static_cast<double>(num_items - distinct);
        (*logq)[k] = std::log(dn * q);
      }
    }
  }
  for (uint32_t i : items) seen[i] = 0;
}

HeadOptions MakeHeadOptions(bool gbce, uint32_t negatives, uint32_t num_items, double gbce_t,
                            bool normalize, double temperature, bool per_position,
                            const ExcludedItems* excluded) {
  HeadOptions head;
  head.loss = gbce            ? HeadLoss::kGbce
              : negatives > 0 ? HeadLoss::kSampledSoftmax
                              : HeadLoss::kFullSoftmax;
  head.normalize = normalize;
  head.temperature = temperature;
  head.excluded = excluded;
  head.per_position = per_position;
  if (gbce) head.gbce_beta = GbceBeta(negatives, num_items, gbce_t);
  return head;
}

absl::StatusOr<PopularityTable> MakePopularityTable(const char* model,
                                                    std::span<const uint64_t> counts,
                                                    uint32_t num_items) {
  const std::string where = std::string(model) + ": item popularity: ";
  if (counts.size() != num_items) {
    return absl::InvalidArgumentError(where + std::to_string(counts.size()) + " counts for " +
                                      std::to_string(num_items) + " items");
  }
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0) return absl::InvalidArgumentError(where + "all counts are 0");
  return PopularityTable(counts);
}

void DrawPerPositionNegatives(RandomStream& stream, std::span<const uint32_t> items,
                              uint32_t num_items, const PopularityTable* table, uint32_t n,
                              size_t per_position, const ExcludedItems& excluded,
                              std::vector<uint8_t>& seen, std::vector<uint32_t>* out,
                              std::vector<double>* logq) {
  out->clear();
  if (logq != nullptr) logq->clear();
  std::vector<uint32_t> one;
  std::vector<double> one_logq;
  for (size_t t = 0; t < per_position; ++t) {
    DrawSharedNegatives(stream, items, num_items, table, n, excluded, seen, &one,
                        logq != nullptr ? &one_logq : nullptr);
    if (one.empty()) {  // no item is available, for any position
      out->clear();
      if (logq != nullptr) logq->clear();
      return;
    }
    out->insert(out->end(), one.begin(), one.end());
    if (logq != nullptr) logq->insert(logq->end(), one_logq.begin(), one_logq.end());
  }
}

}  // namespace fedrec::seqloss
