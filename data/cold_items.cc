#include "data/cold_items.h"

#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <utility>

#include "core/random.h"

namespace fedrec {

absl::StatusOr<std::vector<uint8_t>> DrawColdItems(uint32_t num_items, double fraction,
                                                   uint64_t seed) {
  if (!(fraction >= 0.0 && fraction < 1.0)) {
    char value[32];
    std::snprintf(value, sizeof(value), "%g", fraction);
    return absl::InvalidArgumentError(std::string("eval.cold_items: ") + value +
                                      " must be in [0, 1)");
  }
  if (fraction == 0.0) return std::vector<uint8_t>();
  const auto count = static_cast<uint32_t>(
      std::min<double>(num_items, std::floor(fraction * static_cast<double>(num_items) + 0.5)));
  // Partial Fisher-Yates: positions [0, count) end up a uniform sample.
  std::vector<uint32_t> order(num_items);
  std::iota(order.begin(), order.end(), 0u);
  RandomStream rng({.seed = seed, .purpose = "cold_items"});
  std::vector<uint8_t> is_cold(num_items, 0);
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t j = i + rng.NextBelow(num_items - i);
    std::swap(order[i], order[j]);
    is_cold[order[i]] = 1;
  }
  return is_cold;
}

ColdItems WithholdColdItems(std::vector<uint8_t> is_cold, Dataset* data) {
  ColdItems out;
  for (const uint8_t c : is_cold) out.items += c != 0 ? 1 : 0;
  const uint32_t num_users = data->num_users();
  // Timestamps and ratings run parallel to items when present.
  const bool has_ts = data->timestamps.size() == data->items.size();
  const bool has_ratings = data->ratings.size() == data->items.size();
  uint64_t write = 0;
  uint64_t begin = data->offsets[0];
  for (uint32_t u = 0; u < num_users; ++u) {
    const uint64_t end = data->offsets[u + 1];
    const uint64_t start = write;
    const auto keep = [&](uint64_t p) {
      data->items[write] = data->items[p];
      if (has_ts) data->timestamps[write] = data->timestamps[p];
      if (has_ratings) data->ratings[write] = data->ratings[p];
      ++write;
    };
    for (uint64_t p = begin; p + 1 < end; ++p) {
      if (is_cold[data->items[p]] == 0) keep(p);
    }
    if (end > begin) {
      const uint64_t last = end - 1;
      const bool cold = is_cold[data->items[last]] != 0;
      // A cold test target stays only when the user is still evaluable.
      if (!cold || write - start >= 2) keep(last);
      if (cold && write - start >= 3) ++out.cold_target_users;
    }
    out.emptied_users += write == start && end > begin ? 1 : 0;
    begin = end;
    data->offsets[u + 1] = write;
  }
  out.withheld = data->items.size() - write;
  data->items.resize(write);
  data->items.shrink_to_fit();
  if (has_ts) data->timestamps.resize(write);
  if (has_ratings) data->ratings.resize(write);
  out.is_cold = std::move(is_cold);
  return out;
}

absl::StatusOr<ColdItems> ApplyColdItems(double fraction, uint64_t seed, Dataset* data) {
  FEDREC_ASSIGN_OR_RETURN(std::vector<uint8_t> is_cold,
                          DrawColdItems(data->num_items(), fraction, seed));
  if (is_cold.empty()) return ColdItems{};
  return WithholdColdItems(std::move(is_cold), data);
}

}  // namespace fedrec
