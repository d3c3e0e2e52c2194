// Small in-memory datasets and configs shared by the suites.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "data/dataset.h"

namespace fedrec::testing {

// A dataset of the given per-user sequences of dense item ids, in time order:
// user u has original id u + 1 and item i original id i + 1, timestamps count
// the interactions, ratings are 1. `num_items` is the catalogue size (0: the
// largest item in `seqs` + 1).
Dataset SequenceDataset(const std::vector<std::vector<uint32_t>>& seqs, uint32_t num_items = 0);

// A config for a tiny model of `type` (dim 8, one block, one head) on the
// data at `data_path`, checkpointing every epoch or round and keeping every
// checkpoint; a test sets the rest (training, federation, seed).
Config TinyConfig(const std::string& type, const std::string& data_path = "");

}  // namespace fedrec::testing
