#include "data/partition.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

#include "core/random.h"
#include "data/sampling.h"

namespace fedrec {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Maps a uniform 64-bit value to [0, n) by Lemire's multiply-shift on its
// high 32 bits (bias <= n / 2^32, negligible for worker counts).
uint32_t FastRange(uint64_t x, uint32_t n) { return static_cast<uint32_t>(((x >> 32) * n) >> 32); }

absl::Status Bad(const std::string& text, const std::string& why) {
  return absl::InvalidArgumentError("partition: '" + text + "': " + why);
}

}  // namespace

absl::StatusOr<PartitionSpec> ParsePartitionSpec(const std::string& text) {
  PartitionSpec spec;
  if (text == "hash") {
    spec.kind = PartitionKind::kHash;
    return spec;
  }
  if (text == "contiguous") {
    spec.kind = PartitionKind::kContiguous;
    return spec;
  }
  const std::string prefix = "dirichlet:";
  if (text.rfind(prefix, 0) != 0) {
    return Bad(text, "expected hash, contiguous or dirichlet:<alpha>[:<groups>]");
  }
  spec.kind = PartitionKind::kDirichlet;
  std::string rest = text.substr(prefix.size());
  std::string groups;
  if (const size_t colon = rest.find(':'); colon != std::string::npos) {
    groups = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }
  const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), spec.alpha);
  if (rest.empty() || ec != std::errc() || ptr != rest.data() + rest.size() ||
      !std::isfinite(spec.alpha) || spec.alpha <= 0) {
    return Bad(text, "alpha must be a positive number");
  }
  if (!groups.empty() || text.back() == ':') {
    const auto [gp, gec] =
        std::from_chars(groups.data(), groups.data() + groups.size(), spec.groups);
    if (groups.empty() || gec != std::errc() || gp != groups.data() + groups.size() ||
        spec.groups == 0) {
      return Bad(text, "groups must be a positive integer");
    }
  }
  return spec;
}

std::string PartitionSpecName(const PartitionSpec& spec) {
  switch (spec.kind) {
    case PartitionKind::kHash:
      return "hash";
    case PartitionKind::kContiguous:
      return "contiguous";
    case PartitionKind::kDirichlet: {
      char buf[64];
      const auto r = std::to_chars(buf, buf + sizeof(buf), spec.alpha);
      return "dirichlet:" + std::string(buf, r.ptr) + ":" + std::to_string(spec.groups);
    }
  }
  return "?";
}

std::vector<uint32_t> ItemGroups(const Dataset& data, uint32_t groups) {
  const uint32_t n = data.num_items();
  std::vector<uint32_t> by_id(n);
  std::iota(by_id.begin(), by_id.end(), 0u);
  std::sort(by_id.begin(), by_id.end(),
            [&](uint32_t a, uint32_t b) { return data.item_ids[a] < data.item_ids[b]; });
  std::vector<uint32_t> group(n);
  for (uint32_t r = 0; r < n; ++r) {
    group[by_id[r]] = static_cast<uint32_t>(static_cast<uint64_t>(r) * groups / n);
  }
  return group;
}

absl::StatusOr<std::vector<uint32_t>> AssignWorkers(const Dataset& data, const PartitionSpec& spec,
                                                    uint32_t num_workers, uint64_t seed) {
  if (num_workers == 0) return absl::InvalidArgumentError("partition: workers must be at least 1");
  const uint32_t n = data.num_users();
  std::vector<uint32_t> worker(n, 0);
  switch (spec.kind) {
    case PartitionKind::kHash: {
      const uint64_t k = SplitMix64(seed ^ Fnv1a64("partition_hash"));
      for (uint32_t u = 0; u < n; ++u)
        worker[u] = FastRange(SplitMix64(data.user_ids[u] ^ k), num_workers);
      break;
    }
    case PartitionKind::kContiguous:
      for (uint32_t u = 0; u < n; ++u) {
        worker[u] = static_cast<uint32_t>(static_cast<uint64_t>(u) * num_workers / n);
      }
      break;
    case PartitionKind::kDirichlet: {
      if (!(spec.alpha > 0) || spec.groups == 0) {
        return absl::InvalidArgumentError("partition: dirichlet needs alpha > 0 and groups >= 1");
      }
      const std::vector<uint32_t> group = ItemGroups(data, spec.groups);
      std::vector<std::vector<double>> cdf(spec.groups, std::vector<double>(num_workers));
      for (uint32_t g = 0; g < spec.groups; ++g) {
        RandomStream rng({.seed = seed, .purpose = "partition_dirichlet", .client = g});
        SampleDirichlet(rng, spec.alpha, cdf[g]);
        std::partial_sum(cdf[g].begin(), cdf[g].end(), cdf[g].begin());
      }
      std::vector<uint32_t> counts(spec.groups);
      for (uint32_t u = 0; u < n; ++u) {
        std::fill(counts.begin(), counts.end(), 0);
        for (uint32_t item : data.Sequence(u)) ++counts[group[item]];
        const uint32_t g =
            static_cast<uint32_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
        RandomStream rng({.seed = seed, .purpose = "partition_dirichlet_user", .client = u});
        const double x = rng.NextDouble() * cdf[g].back();
        const auto it = std::upper_bound(cdf[g].begin(), cdf[g].end(), x);
        worker[u] = std::min(num_workers - 1, static_cast<uint32_t>(it - cdf[g].begin()));
      }
      break;
    }
  }
  return worker;
}

std::vector<std::vector<uint32_t>> UsersByWorker(std::span<const uint32_t> assignment,
                                                 uint32_t num_workers) {
  std::vector<std::vector<uint32_t>> users(num_workers);
  for (uint32_t u = 0; u < assignment.size(); ++u) users[assignment[u]].push_back(u);
  return users;
}

Dataset SelectUsers(const Dataset& data, std::span<const uint32_t> users) {
  Dataset out;
  out.item_ids = data.item_ids;
  out.user_ids.reserve(users.size());
  out.offsets.reserve(users.size() + 1);
  uint64_t total = 0;
  for (uint32_t u : users) total += data.SequenceLength(u);
  out.items.reserve(total);
  out.timestamps.reserve(total);
  out.ratings.reserve(total);
  out.offsets.push_back(0);
  for (uint32_t u : users) {
    out.user_ids.push_back(data.user_ids[u]);
    const auto b = static_cast<ptrdiff_t>(data.offsets[u]);
    const auto e = static_cast<ptrdiff_t>(data.offsets[u + 1]);
    out.items.insert(out.items.end(), data.items.begin() + b, data.items.begin() + e);
    out.timestamps.insert(out.timestamps.end(), data.timestamps.begin() + b,
                          data.timestamps.begin() + e);
    out.ratings.insert(out.ratings.end(), data.ratings.begin() + b, data.ratings.begin() + e);
    out.offsets.push_back(out.items.size());
  }
  return out;
}

}  // namespace fedrec
