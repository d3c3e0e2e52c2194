#include "tests/testing/fixtures.h"

#include <algorithm>

namespace fedrec::testing {

Dataset SequenceDataset(const std::vector<std::vector<uint32_t>>& seqs, uint32_t num_items) {
  Dataset d;
  d.offsets.push_back(0);
  uint32_t max_item = 0;
  for (size_t u = 0; u < seqs.size(); ++u) {
    d.user_ids.push_back(u + 1);
    for (uint32_t item : seqs[u]) {
      d.items.push_back(item);
      d.timestamps.push_back(static_cast<int64_t>(d.items.size()));
      d.ratings.push_back(1.0f);
      max_item = std::max(max_item, item);
    }
    d.offsets.push_back(d.items.size());
  }
  if (num_items == 0) num_items = max_item + 1;
  for (uint32_t i = 0; i < num_items; ++i) d.item_ids.push_back(i + 1);
  return d;
}

Config TinyConfig(const std::string& type, const std::string& data_path) {
  Config c;
  c.data.path = data_path;
  c.model.type = type;
  c.model.dim = 8;
  c.model.blocks = 1;
  c.model.heads = 1;
  c.checkpoint.every = 1;
  c.checkpoint.keep = 0;
  return c;
}

}  // namespace fedrec::testing
