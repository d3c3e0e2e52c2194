// Partitioning users across W workers (silos), and cutting a worker's share
// out of a Dataset.
//
// Schemes (each a pure function of the dataset, the spec, W and the seed):
//   hash        worker = FastRange(SplitMix64(original_user_id ^ k), W) (the high 32
//               bits times W, shifted down by 32) with
//               k = SplitMix64(seed ^ Fnv1a64("partition_hash")). It depends
//               on the ORIGINAL user id only, so a user stays on its worker
//               when filtering changes the dense ids.
//   contiguous  dense user u -> floor(u * W / num_users): contiguous ranges
//               whose sizes differ by at most one. Ignores the seed.
//   dirichlet:alpha[:groups]   label-skew non-IID (Hsu et al. 2019), with a
//               user's "label" being its dominant item group:
//               1. items are ranked by ORIGINAL item id; the item of rank r
//                  is in group floor(r * G / num_items) (G = groups, default
//                  10; for `fedrec data synth` files, G = clusters makes the
//                  groups the generator's clusters);
//               2. a user's dominant group is the group holding most of its
//                  interactions (ties: the lowest group);
//               3. each group g draws worker proportions
//                  p_g ~ Dirichlet(alpha, ..., alpha) over the W workers from
//                  the stream (seed, "partition_dirichlet", 0, g, 0);
//               4. dense user u of dominant group g draws its worker from p_g
//                  with the stream (seed, "partition_dirichlet_user", 0, u, 0).
//               Large alpha -> every group spread evenly (near IID); small
//               alpha -> each group concentrated on few workers. A worker
//               may receive no users.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"

namespace fedrec {

enum class PartitionKind { kHash, kContiguous, kDirichlet };

struct PartitionSpec {
  PartitionKind kind = PartitionKind::kHash;
  double alpha = 0.5;    // dirichlet only, > 0
  uint32_t groups = 10;  // dirichlet only, >= 1
};

// "hash" | "contiguous" | "dirichlet:<alpha>" | "dirichlet:<alpha>:<groups>";
// InvalidArgument "partition: ..." otherwise.
absl::StatusOr<PartitionSpec> ParsePartitionSpec(const std::string& text);
// The canonical text of a spec (ParsePartitionSpec's inverse).
std::string PartitionSpecName(const PartitionSpec& spec);

// The worker (0..num_workers-1) of every dense user. num_workers >= 1.
absl::StatusOr<std::vector<uint32_t>> AssignWorkers(const Dataset& data, const PartitionSpec& spec,
                                                    uint32_t num_workers, uint64_t seed);

// Dense users of each worker, ascending.
std::vector<std::vector<uint32_t>> UsersByWorker(std::span<const uint32_t> assignment,
                                                 uint32_t num_workers);

// The dirichlet scheme's item groups (see above), per dense item.
std::vector<uint32_t> ItemGroups(const Dataset& data, uint32_t groups);

// A Dataset holding only `users` (dense ids of `data`, in the given order:
// user k of the result is users[k]). The item table is kept whole, so item
// ids agree across workers; the result owns its memory, so a worker can drop
// the full dataset afterwards.
Dataset SelectUsers(const Dataset& data, std::span<const uint32_t> users);

}  // namespace fedrec
