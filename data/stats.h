// Summary statistics of a Dataset (for `fedrec data stats` and run logs).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "data/dataset.h"

namespace fedrec {

struct DatasetStats {
  uint64_t users = 0;
  uint64_t items = 0;
  uint64_t interactions = 0;
  uint64_t min_length = 0;   // shortest user sequence
  double median_length = 0;  // mean of the two middle values for an even count
  double mean_length = 0;
  uint64_t max_length = 0;
  double density = 0;  // interactions / (users * items)
  // Fraction of interactions whose timestamp equals that of another
  // interaction of the same user (their relative order is the file order).
  double tied_timestamp_fraction = 0;
};

DatasetStats ComputeStats(const Dataset& data);

// {"users":..,"items":..,"interactions":..,"sequence_length":{"min","median",
//  "mean","max"},"density":..,"tied_timestamp_fraction":..}
nlohmann::json ToJson(const DatasetStats& stats);

}  // namespace fedrec
