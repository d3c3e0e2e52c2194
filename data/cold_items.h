// Cold-start evaluation: a fraction of the catalogue withheld from training
// (eval.cold_items), so the test targets among those items measure how a
// model ranks items it never saw an interaction with.
//
//   - The cold set: exactly round(fraction * num_items) dense items, drawn
//     uniformly without replacement (a partial Fisher-Yates shuffle) from the
//     stream (seed, "cold_items"). A pure function of (num_items, fraction,
//     seed), so every rank of a federation draws the same set.
//   - The withholding: every occurrence of a cold item is removed from every
//     user's sequence, except the user's last interaction (the test target)
//     when at least two interactions remain before it. A cold item therefore
//     never appears in a training prefix, a validation target or an
//     evaluation input; it appears only as a test target. A user left with
//     fewer than three interactions is not evaluable (data/split.h) and
//     trains on what is left, which holds no cold item: a cold last item
//     without two interactions before it is removed with the rest.
//   - The catalogue is unchanged: num_items, the id tables and the users stay
//     (a user may be left with an empty sequence). An id model keeps an
//     untrained embedding for a cold item; a content model can still
//     represent it from its features.
//
// The sampled protocol draws negatives among the items a user never touched
// in the withheld data: a cold item the user interacted with before the
// withholding can be one of them.
//
// Thread-safety: free functions, no shared state.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"

namespace fedrec {

struct ColdItems {
  std::vector<uint8_t> is_cold;    // per dense item, 1 = cold; empty when off
  uint32_t items = 0;              // cold items
  uint64_t withheld = 0;           // interactions removed
  uint64_t emptied_users = 0;      // users left with no interaction
  uint64_t cold_target_users = 0;  // evaluable users whose test target is cold

  bool enabled() const { return !is_cold.empty(); }
};

// The cold set as one flag per item. InvalidArgument unless fraction is in
// [0, 1); fraction 0 gives an empty vector (off).
absl::StatusOr<std::vector<uint8_t>> DrawColdItems(uint32_t num_items, double fraction,
                                                   uint64_t seed);

// Withholds the flagged items from `data` in place as described above and
// returns the counts (is_cold moved into the result). `is_cold` must hold
// one flag per item of `data`.
ColdItems WithholdColdItems(std::vector<uint8_t> is_cold, Dataset* data);

// DrawColdItems + WithholdColdItems; fraction 0 leaves `data` untouched and
// returns a disabled ColdItems.
absl::StatusOr<ColdItems> ApplyColdItems(double fraction, uint64_t seed, Dataset* data);

}  // namespace fedrec
