// Item content for the synthetic datasets of data/synth.h, carrying each
// item's cluster (SynthClusterOf) with a known amount of noise: a frozen
// feature matrix (`fedrec data synth --item-features`) and item text
// (`--item-text`), so a content model can be checked against the answer.
//
// Features (f = dim): cluster c has a centroid m_c, a unit vector with
// N(0, 1) coordinates from the stream (seed, "synth_features_centroid", 0,
// c, 0), normalised; item i of cluster c has
//     x_i = normalize(m_c + noise * z_i / sqrt(f)),  z_i ~ N(0, I_f)
// from the stream (seed, "synth_features", 0, i, 0). |z_i / sqrt(f)| is
// about 1, so noise 0 gives the centroid itself, noise 1 about equal parts
// of signal and noise (same-cluster cosine ~ 1 / (1 + noise^2), other
// clusters ~ 0 +- 1 / sqrt(f)).
//
// Text: one line per item, "<item id>\t<words>", `text_words` words, each
// drawn from the stream (seed, "synth_text", 0, i, 0): with probability
// 1 - text_noise one of the item's cluster's 8 words, else one of 500 words
// shared by every cluster. Words are made-up lower-case syllable strings,
// distinct, so a tokenizer sees clusters only through which words co-occur.
//
// Rows and lines are in item order, 0-based item i with original id i + 1,
// exactly as the dataset file spells it (a dataset holds only the items
// some user interacted with; LoadItemFeatures ignores the extra rows). Both
// are pure functions of the options, for any thread count, and written
// atomically.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/synth.h"

namespace fedrec {

struct SynthContentOptions {
  uint32_t dim = 64;         // feature dimension f, >= 1
  double noise = 0.5;        // feature noise, finite and >= 0
  uint32_t text_words = 12;  // words per item text, >= 1
  double text_noise = 0.3;   // share of shared (uninformative) words, in [0, 1]
};

// InvalidArgument "synth: <what>" when an option is out of range.
absl::Status ValidateSynthContentOptions(const SynthContentOptions& options);

// The feature matrix, items x dim, row-major.
std::vector<float> SynthItemFeatures(const SynthOptions& synth, const SynthContentOptions& options);

// Writes the features to `npy_path` (float32 [items, dim]; the path must end
// in ".npy") and their original item ids to the companion <stem>.ids.npy
// (int64 [items]), the layout LoadItemFeatures reads with ids = "auto".
absl::Status WriteSyntheticItemFeatures(const SynthOptions& synth,
                                        const SynthContentOptions& options,
                                        const std::string& npy_path);

// The companion id list's path for a features path "<stem>.npy".
std::string SynthIdsPath(const std::string& npy_path);

// One item's text (0-based item), and the whole file.
std::string SynthItemText(const SynthOptions& synth, const SynthContentOptions& options,
                          uint32_t item);
absl::Status WriteSyntheticItemText(const SynthOptions& synth, const SynthContentOptions& options,
                                    const std::string& tsv_path);

}  // namespace fedrec
