#include "data/synth_content.h"

#include <charconv>
#include <cmath>
#include <span>

#include "core/atomic_file.h"
#include "core/random.h"
#include "core/thread_pool.h"
#include "data/tensor_files.h"

namespace fedrec {
namespace {

absl::Status Bad(const std::string& what) { return absl::InvalidArgumentError("synth: " + what); }

constexpr uint32_t kWordsPerCluster = 8;
constexpr uint32_t kSharedWords = 500;
constexpr char kConsonants[] = "bdfghklmnprstvz";  // 15
constexpr char kVowels[] = "aeiou";                // 5
constexpr uint32_t kSyllables = 75;
constexpr uint32_t kWordSpace = kSyllables * kSyllables * kSyllables;  // three syllables

// Word k of the vocabulary (k < kWordSpace): an affine bijection of k read
// as three syllables, so neighbouring indices (one cluster's words) share no
// visible structure.
std::string Word(uint32_t k) {
  uint64_t x = (uint64_t{k} * 7919 + 12345) % kWordSpace;  // 7919 is prime to 3 and 5
  std::string w;
  for (int s = 0; s < 3; ++s) {
    const uint32_t syllable = static_cast<uint32_t>(x % kSyllables);
    x /= kSyllables;
    w.push_back(kConsonants[syllable / 5]);
    w.push_back(kVowels[syllable % 5]);
  }
  return w;
}

void Normalize(std::span<float> v) {
  double norm2 = 0;
  for (float x : v) norm2 += double{x} * x;
  const double inv = norm2 > 0 ? 1.0 / std::sqrt(norm2) : 0.0;
  for (float& x : v) x = static_cast<float>(x * inv);
}

}  // namespace

absl::Status ValidateSynthContentOptions(const SynthContentOptions& o) {
  if (o.dim == 0) return Bad("--feature-dim must be at least 1");
  if (!(o.noise >= 0.0) || !std::isfinite(o.noise)) {
    return Bad("--feature-noise must be a finite number >= 0");
  }
  if (o.text_words == 0) return Bad("--text-words must be at least 1");
  if (!(o.text_noise >= 0.0 && o.text_noise <= 1.0)) return Bad("--text-noise must be in [0, 1]");
  return absl::OkStatus();
}

std::vector<float> SynthItemFeatures(const SynthOptions& synth, const SynthContentOptions& o) {
  const uint32_t f = o.dim;
  std::vector<float> centroids(static_cast<size_t>(synth.clusters) * f);
  for (uint32_t c = 0; c < synth.clusters; ++c) {
    RandomStream rng({.seed = synth.seed, .purpose = "synth_features_centroid", .client = c});
    const std::span<float> m(centroids.data() + static_cast<size_t>(c) * f, f);
    for (float& x : m) x = static_cast<float>(rng.NextNormal());
    Normalize(m);
  }
  std::vector<float> out(static_cast<size_t>(synth.items) * f);
  const double scale = o.noise / std::sqrt(static_cast<double>(f));
  // Each row comes from its own stream: the same values for any thread count.
  const absl::Status st = ParallelFor(
      synth.items, 1024, static_cast<size_t>(synth.threads), [&](size_t begin, size_t end, size_t) {
        for (size_t i = begin; i < end; ++i) {
          const auto item = static_cast<uint32_t>(i);
          const float* m = centroids.data() + static_cast<size_t>(SynthClusterOf(synth, item)) * f;
          const std::span<float> row(out.data() + i * f, f);
          RandomStream rng({.seed = synth.seed, .purpose = "synth_features", .client = item});
          for (uint32_t d = 0; d < f; ++d) {
            row[d] = static_cast<float>(m[d] + scale * rng.NextNormal());
          }
          Normalize(row);
        }
        return absl::OkStatus();
      });
  (void)st;  // the body never fails
  return out;
}

std::string SynthIdsPath(const std::string& npy_path) {
  return npy_path.substr(0, npy_path.size() - 4) + ".ids.npy";
}

absl::Status WriteSyntheticItemFeatures(const SynthOptions& synth, const SynthContentOptions& o,
                                        const std::string& npy_path) {
  FEDREC_RETURN_IF_ERROR(ValidateSynthOptions(synth));
  FEDREC_RETURN_IF_ERROR(ValidateSynthContentOptions(o));
  if (npy_path.size() <= 4 || npy_path.compare(npy_path.size() - 4, 4, ".npy") != 0) {
    return Bad("--item-features: '" + npy_path + "' must end in .npy");
  }
  const std::vector<float> features = SynthItemFeatures(synth, o);
  std::vector<int64_t> ids(synth.items);
  for (uint32_t i = 0; i < synth.items; ++i) ids[i] = int64_t{i} + 1;
  const uint64_t rows = synth.items;
  const uint64_t shape[] = {rows, o.dim};
  // The ids first: a features file is never left beside a stale id list.
  FEDREC_RETURN_IF_ERROR(WriteNpy(SynthIdsPath(npy_path), std::span<const uint64_t>(&rows, 1),
                                  std::span<const int64_t>(ids)));
  return WriteNpy(npy_path, shape, std::span<const float>(features));
}

std::string SynthItemText(const SynthOptions& synth, const SynthContentOptions& o, uint32_t item) {
  const uint32_t cluster = SynthClusterOf(synth, item);
  RandomStream rng({.seed = synth.seed, .purpose = "synth_text", .client = item});
  std::string text;
  for (uint32_t w = 0; w < o.text_words; ++w) {
    const bool shared = rng.NextDouble() < o.text_noise;
    const uint32_t k =
        shared ? rng.NextBelow(kSharedWords)
               : kSharedWords + cluster * kWordsPerCluster + rng.NextBelow(kWordsPerCluster);
    if (w > 0) text.push_back(' ');
    text += Word(k);
  }
  return text;
}

absl::Status WriteSyntheticItemText(const SynthOptions& synth, const SynthContentOptions& o,
                                    const std::string& tsv_path) {
  FEDREC_RETURN_IF_ERROR(ValidateSynthOptions(synth));
  FEDREC_RETURN_IF_ERROR(ValidateSynthContentOptions(o));
  if (uint64_t{kSharedWords} + uint64_t{synth.clusters} * kWordsPerCluster > kWordSpace) {
    return Bad("--item-text: more clusters (" + std::to_string(synth.clusters) +
               ") than the made-up vocabulary has words for (at most " +
               std::to_string((kWordSpace - kSharedWords) / kWordsPerCluster) + ")");
  }
  FEDREC_ASSIGN_OR_RETURN(AtomicFileWriter writer, AtomicFileWriter::Open(tsv_path));
  std::string chunk;
  for (uint32_t i = 0; i < synth.items; ++i) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof(buf), uint64_t{i} + 1);
    chunk.append(buf, static_cast<size_t>(r.ptr - buf));
    chunk.push_back('\t');
    chunk += SynthItemText(synth, o, i);
    chunk.push_back('\n');
    if (chunk.size() > (1 << 20)) {
      FEDREC_RETURN_IF_ERROR(writer.Append(chunk));
      chunk.clear();
    }
  }
  FEDREC_RETURN_IF_ERROR(writer.Append(chunk));
  return std::move(writer).Commit();
}

}  // namespace fedrec
