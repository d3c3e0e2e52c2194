// Uniform negative sampling from the items a user has NOT interacted with,
// shared by the MF-BPR and GRU4Rec training steps. Draws come from the
// caller's RandomStream (seed, "train_negatives", epoch, user, step), by
// rejection, so a draw sequence depends only on the stream and the user's
// item set.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/random.h"

namespace fedrec {

class NegativeSampler {
 public:
  NegativeSampler() = default;
  explicit NegativeSampler(uint32_t num_items) : marked_(num_items, 0) {}

  // Marks `items` as excluded. Returns false when they cover the whole
  // catalogue (no negative exists; Draw must not be called then). Every
  // Begin() must be followed by End() with the same items.
  bool Begin(std::span<const uint32_t> items) {
    uint32_t distinct = 0;
    for (uint32_t item : items) {
      distinct += marked_[item] == 0;
      marked_[item] = 1;
    }
    return distinct < marked_.size();
  }
  uint32_t Draw(RandomStream& stream) const {
    const uint32_t n = static_cast<uint32_t>(marked_.size());
    uint32_t item;
    do {
      item = stream.NextBelow(n);
    } while (marked_[item] != 0);
    return item;
  }
  void End(std::span<const uint32_t> items) {
    for (uint32_t item : items) marked_[item] = 0;
  }

 private:
  std::vector<uint8_t> marked_;  // item -> 1 while excluded
};

}  // namespace fedrec
