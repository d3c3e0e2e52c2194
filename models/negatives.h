// Uniform negative sampling from the items a user has NOT interacted with,
// shared by the MF-BPR and GRU4Rec training steps. Draws come from the
// caller's RandomStream (seed, "train_negatives", epoch, user, step), by
// rejection, so a draw sequence depends only on the stream and the user's
// item set (and the excluded items, when there are any).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/status.h"

namespace fedrec {

// How the shared negatives of the softmax-type losses are drawn.
enum class NegativeSampler {
  kUniform,     // uniform over the items not in the user's sequence
  kPopularity,  // proportional to training counts (Model::SetItemPopularity), logQ-corrected
};

// Items that are never a training negative, whoever the user: the cold
// items of eval.cold_items (data/cold_items.h), which a cold-start
// simulation treats as not yet in the catalogue while the model trains.
// Every model that draws negatives (or takes a softmax over the catalogue)
// skips them; with none excluded every draw is the same as without the set.
// Immutable once built; threads share it read-only.
class ExcludedItems {
 public:
  ExcludedItems() = default;
  // One flag per item of the catalogue, 1 = excluded.
  explicit ExcludedItems(std::span<const uint8_t> flags) {
    for (uint32_t i = 0; i < flags.size(); ++i) {
      if (flags[i] != 0) items_.push_back(i);
    }
    if (!items_.empty()) flags_.assign(flags.begin(), flags.end());
  }

  bool empty() const { return items_.empty(); }
  bool contains(uint32_t item) const { return !flags_.empty() && flags_[item] != 0; }
  uint32_t count() const { return static_cast<uint32_t>(items_.size()); }
  // The excluded items, ascending.
  std::span<const uint32_t> items() const { return items_; }

 private:
  std::vector<uint8_t> flags_;  // empty when nothing is excluded
  std::vector<uint32_t> items_;
};

// Checks the flags of Model::SetNegativeExclusions: one per item of a
// catalogue of num_items (or none). InvalidArgument "<model>: negative
// exclusions: N flags for M items" otherwise.
inline absl::Status CheckExclusionFlags(const char* model, std::span<const uint8_t> flags,
                                        uint32_t num_items) {
  if (flags.empty() || flags.size() == num_items) return absl::OkStatus();
  return absl::InvalidArgumentError(std::string(model) +
                                    ": negative exclusions: " + std::to_string(flags.size()) +
                                    " flags for " + std::to_string(num_items) + " items");
}

class UnseenItemSampler {
 public:
  UnseenItemSampler() = default;
  explicit UnseenItemSampler(uint32_t num_items) : marked_(num_items, 0) {}

  // Marks `items` as the user's. Returns false when they and `excluded`
  // cover the whole catalogue (no negative exists; Draw must not be called
  // then). Every Begin() must be followed by End() with the same items.
  bool Begin(std::span<const uint32_t> items, const ExcludedItems& excluded) {
    uint32_t distinct = 0;
    for (uint32_t item : items) {
      distinct += marked_[item] == 0 && !excluded.contains(item);
      marked_[item] = 1;
    }
    return static_cast<uint64_t>(distinct) + excluded.count() < marked_.size();
  }
  // A uniform draw among the items neither the user's nor excluded.
  uint32_t Draw(RandomStream& stream, const ExcludedItems& excluded) const {
    const uint32_t n = static_cast<uint32_t>(marked_.size());
    uint32_t item;
    do {
      item = stream.NextBelow(n);
    } while (marked_[item] != 0 || excluded.contains(item));
    return item;
  }
  void End(std::span<const uint32_t> items) {
    for (uint32_t item : items) marked_[item] = 0;
  }

 private:
  std::vector<uint8_t> marked_;  // item -> 1 while excluded
};

}  // namespace fedrec
