// The in-memory dataset every model and the evaluation protocol read.
//
// Users and items carry dense ids 0..n-1; the original ids from the source
// file are kept for output (recommend, inspect). Each user's interactions are
// one contiguous sequence in time order, in CSR layout:
//   user u owns positions [offsets[u], offsets[u+1]) of items/timestamps/ratings.
// Order rule (stable, documented in README "Data formats"): ascending
// timestamp, ties kept in the order of their lines in the source file. For
// formats without timestamps (SASRec text) the file order is the time order.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace fedrec {

struct ItemFeatures;  // data/item_features.h

struct Dataset {
  std::vector<uint64_t> user_ids;   // dense user -> original id
  std::vector<uint64_t> item_ids;   // dense item -> original id
  std::vector<uint64_t> offsets;    // size num_users() + 1, offsets[0] == 0
  std::vector<uint32_t> items;      // dense item ids, per user in time order
  std::vector<int64_t> timestamps;  // parallel to items (line number if none)
  std::vector<float> ratings;       // parallel to items (1.0 for implicit data)
  // SHA-256 (hex) of the source file's bytes, the identity a checkpoint
  // records so a resume can tell a changed file; empty for a dataset built
  // in memory.
  std::string source_sha256;
  // Content features of the items (row i = dense item i), when the load
  // asked for them (LoadOptions::item_features); shared, immutable.
  std::shared_ptr<const ItemFeatures> item_features;

  uint32_t num_users() const { return static_cast<uint32_t>(user_ids.size()); }
  uint32_t num_items() const { return static_cast<uint32_t>(item_ids.size()); }
  uint64_t num_interactions() const { return items.size(); }

  std::span<const uint32_t> Sequence(uint32_t user) const {
    return {items.data() + offsets[user], items.data() + offsets[user + 1]};
  }
  std::span<const float> Ratings(uint32_t user) const {
    return {ratings.data() + offsets[user], ratings.data() + offsets[user + 1]};
  }
  uint64_t SequenceLength(uint32_t user) const { return offsets[user + 1] - offsets[user]; }
};

}  // namespace fedrec
