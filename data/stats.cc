#include "data/stats.h"

#include <algorithm>
#include <vector>

namespace fedrec {

DatasetStats ComputeStats(const Dataset& d) {
  DatasetStats s;
  s.users = d.num_users();
  s.items = d.num_items();
  s.interactions = d.num_interactions();
  if (s.users == 0) return s;
  std::vector<uint64_t> lengths(s.users);
  uint64_t tied = 0;
  for (uint32_t u = 0; u < d.num_users(); ++u) {
    lengths[u] = d.SequenceLength(u);
    // Within a user the sequence is sorted by timestamp, so equal
    // timestamps are adjacent: an interaction is tied when a neighbour
    // shares its timestamp.
    const uint64_t b = d.offsets[u], e = d.offsets[u + 1];
    for (uint64_t p = b; p < e; ++p) {
      const bool left = p > b && d.timestamps[p - 1] == d.timestamps[p];
      const bool right = p + 1 < e && d.timestamps[p + 1] == d.timestamps[p];
      tied += left || right;
    }
  }
  std::sort(lengths.begin(), lengths.end());
  s.min_length = lengths.front();
  s.max_length = lengths.back();
  const size_t n = lengths.size();
  s.median_length = n % 2 == 1 ? static_cast<double>(lengths[n / 2])
                               : 0.5 * static_cast<double>(lengths[n / 2 - 1] + lengths[n / 2]);
  s.mean_length = static_cast<double>(s.interactions) / static_cast<double>(s.users);
  s.density = s.items == 0 ? 0.0
                           : static_cast<double>(s.interactions) /
                                 (static_cast<double>(s.users) * static_cast<double>(s.items));
  s.tied_timestamp_fraction =
      s.interactions == 0 ? 0.0 : static_cast<double>(tied) / static_cast<double>(s.interactions);
  return s;
}

nlohmann::json ToJson(const DatasetStats& s) {
  return nlohmann::json{
      {"users", s.users},
      {"items", s.items},
      {"interactions", s.interactions},
      {"sequence_length",
       {{"min", s.min_length},
        {"median", s.median_length},
        {"mean", s.mean_length},
        {"max", s.max_length}}},
      {"density", s.density},
      {"tied_timestamp_fraction", s.tied_timestamp_fraction},
  };
}

}  // namespace fedrec
