// Item content features: a frozen matrix with one row per item of a dataset,
// produced outside the model (a sentence encoder over item text, or the
// synthetic generator) and read from NumPy .npy or safetensors files keyed by
// the dataset's original item ids.
//
// Item text is public catalogue data: these features are never trained and
// never aggregated; a model maps them into its own space with a learned
// adapter (model.item_repr = text | id+text).
//
// Thread-safety: an ItemFeatures is immutable after loading and shared
// read-only (std::shared_ptr<const ItemFeatures>) by every model, client and
// thread of a process.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace fedrec {

struct ItemFeatures {
  uint32_t num_items = 0;     // rows, in the dataset's dense item order
  uint32_t dim = 0;           // feature dimension f
  std::vector<float> values;  // num_items * dim, row-major, all finite
  // The identity a checkpoint records: SHA-256 (hex) of the feature file's
  // bytes, or, when the ids come from a separate file, SHA-256 of the two
  // files' digests concatenated ("<features hex><ids hex>").
  std::string sha256;
  std::string path;  // the file read, for messages

  std::span<const float> Row(uint32_t item) const {
    return {values.data() + static_cast<size_t>(item) * dim, dim};
  }
};

// Where the original item id of each feature row comes from.
//   "auto":   safetensors: the file's one integer 1-D tensor; .npy: a companion
//             list beside it, <stem>.ids.npy (integer) or <stem>.ids.txt (one
//             id per line)
//   "column": the .npy's first column holds the ids (integer-valued)
//   any other value: the path of an id list (.npy or .txt)
struct ItemFeatureSource {
  std::string path;
  std::string ids = "auto";
};

// Reads the features of the items of a dataset: row i of the result is the
// feature row whose id equals item_ids[i] (the dataset's dense -> original
// map). Rows for ids the dataset does not hold are ignored (a catalogue may
// list more items than were interacted with).
// InvalidArgument "<path>: <reason>" for a missing file, an unknown format,
// a wrong dtype or rank, a duplicate id, a dataset item without a row
// ("item 1234 has no feature row"), or a non-finite value ("row 17 ...").
absl::StatusOr<std::shared_ptr<const ItemFeatures>> LoadItemFeatures(
    const ItemFeatureSource& source, std::span<const uint64_t> item_ids);

}  // namespace fedrec
