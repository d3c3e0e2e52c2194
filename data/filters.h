// Cleaning filters and the Dataset builder.
//
// Filters work on a RawInteractions list (data/reader.h) through a keep mask
// (one byte per line, 1 = kept), so they compose and never copy the list.
// BuildDataset then remaps the surviving users and items to dense ids in
// order of first appearance among the KEPT lines, and lays each user's
// sequence out in time order (ascending timestamp, ties in line order).
//
// ApplyFilters runs, in this order:
//   1. dedupe_consecutive: drop an interaction whose item equals the previous
//      kept item of the same user in time order (A A B A -> A B A);
//   2. min_count (SASRec's one-pass rule): drop interactions whose user or
//      item has fewer than k interactions, counted ONCE over what step 1
//      kept; survivors may then have fewer than k (as in SASRec's script);
//   3. kcore: repeat "drop users and items with fewer than k interactions"
//      until nothing changes (the unique maximal k-core).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"
#include "data/reader.h"

namespace fedrec {

struct FilterOptions {
  uint32_t min_count = 0;  // 0 or 1: off
  uint32_t kcore = 0;      // 0 or 1: off
  bool dedupe_consecutive = false;
};

using KeepMask = std::vector<uint8_t>;

// Line indices of the kept lines grouped by raw user (raw user u owns
// order[offsets[u], offsets[u+1])), each group in time order (timestamp,
// then line). Users with no kept line have an empty group.
struct UserOrder {
  std::vector<uint64_t> offsets;
  std::vector<uint32_t> order;
};
UserOrder GroupByUserInTimeOrder(const RawInteractions& raw, const KeepMask& keep);

void DedupeConsecutive(const RawInteractions& raw, KeepMask* keep);
void ApplyMinCount(const RawInteractions& raw, uint32_t k, KeepMask* keep);
void ApplyKCore(const RawInteractions& raw, uint32_t k, KeepMask* keep);

// All filters of `options`, in the order documented above; returns the mask.
KeepMask ApplyFilters(const RawInteractions& raw, const FilterOptions& options);

// The Dataset of the kept lines (see the header comment). May be empty (no
// users) when nothing is kept; LoadDataset refuses that case.
Dataset BuildDataset(const RawInteractions& raw, const KeepMask& keep);

}  // namespace fedrec
