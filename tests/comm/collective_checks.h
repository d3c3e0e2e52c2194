// Backend-independent checks of the Collective contract against closed forms.
// Each function is called on every rank of a group (a thread per rank for the
// local backend, a process per rank for MPI) and reports through EXPECT_*;
// a failed call does not return early, so the ranks stay in step.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "comm/collective.h"

namespace fedrec::comm_testing {

// Lengths of the AllreduceSum grid.
inline std::vector<size_t> GridLengths() { return {0, 1, 5, 1000, (size_t{1} << 20) + 3}; }

// Rank r's message for `tag`: empty for r % 3 == 1, otherwise r * 5 + tag bytes
// that include zero bytes, so nothing relies on NUL termination.
inline std::string Message(int rank, int tag) {
  if (rank % 3 == 1) return "";
  std::string out(static_cast<size_t>(rank * 5 + tag), '\0');
  for (size_t j = 0; j < out.size(); ++j) {
    out[j] = static_cast<char>((static_cast<size_t>(rank) * 31 + j * 7 + static_cast<size_t>(tag)) &
                               0xff);
  }
  return out;
}

inline std::vector<std::string> AllMessages(int size, int tag) {
  std::vector<std::string> out;
  for (int r = 0; r < size; ++r) out.push_back(Message(r, tag));
  return out;
}

// AllreduceSum on spans of `length`, four patterns with closed-form sums:
//   u32 small:  rank r holds (r+1)(i+1)           -> (i+1) N(N+1)/2      mod 2^32
//   u32 wrap:   rank r holds 2^32-1-i             -> -N(i+1)             mod 2^32
//   u64 mixed:  rank r holds (r+1)(i+1) K         -> K (i+1) N(N+1)/2    mod 2^64
//   u64 wrap:   rank r holds 2^64-1-r i           -> -N - i N(N-1)/2     mod 2^64
inline void CheckAllreduce(Collective& comm, size_t length) {
  const uint64_t n = static_cast<uint64_t>(comm.size());
  const uint64_t r = static_cast<uint64_t>(comm.rank());
  const uint64_t tri = n * (n + 1) / 2;
  constexpr uint64_t kOdd = 0x9E3779B97F4A7C15ull;

  std::vector<uint32_t> small(length), wrap32(length);
  std::vector<uint64_t> mixed(length), wrap64(length);
  for (size_t i = 0; i < length; ++i) {
    small[i] = static_cast<uint32_t>((r + 1) * (i + 1));
    wrap32[i] = std::numeric_limits<uint32_t>::max() - static_cast<uint32_t>(i);
    mixed[i] = (r + 1) * (i + 1) * kOdd;
    wrap64[i] = std::numeric_limits<uint64_t>::max() - r * i;
  }
  EXPECT_TRUE(comm.AllreduceSum(std::span<uint32_t>(small)).ok());
  EXPECT_TRUE(comm.AllreduceSum(std::span<uint32_t>(wrap32)).ok());
  EXPECT_TRUE(comm.AllreduceSum(std::span<uint64_t>(mixed)).ok());
  EXPECT_TRUE(comm.AllreduceSum(std::span<uint64_t>(wrap64)).ok());
  size_t bad = 0;
  for (size_t i = 0; i < length; ++i) {
    const uint64_t k = i + 1;
    const bool ok = small[i] == static_cast<uint32_t>(k * tri) &&
                    wrap32[i] == static_cast<uint32_t>(0 - n * k) && mixed[i] == kOdd * k * tri &&
                    wrap64[i] == 0 - n - static_cast<uint64_t>(i) * (n * (n - 1) / 2);
    if (!ok && bad++ < 3) {
      ADD_FAILURE() << "rank " << r << " of " << n << ", length " << length << ", index " << i
                    << ": got " << small[i] << " " << wrap32[i] << " " << mixed[i] << " "
                    << wrap64[i];
    }
  }
  EXPECT_EQ(bad, 0u) << "length " << length;
}

// Broadcast from every root: a short message (maybe empty, replacing longer
// contents), then a long one that spans several chunks of a small-chunk MPI
// collective.
inline void CheckBroadcast(Collective& comm) {
  for (int root = 0; root < comm.size(); ++root) {
    std::string bytes = comm.rank() == root ? Message(root, 3) : std::string(17, 'x');
    EXPECT_TRUE(comm.Broadcast(&bytes, root).ok());
    EXPECT_EQ(bytes, Message(root, 3)) << "root " << root << " rank " << comm.rank();

    std::string long_bytes = comm.rank() == root ? std::string(5000, static_cast<char>(root)) : "";
    EXPECT_TRUE(comm.Broadcast(&long_bytes, root).ok());
    EXPECT_EQ(long_bytes, std::string(5000, static_cast<char>(root)));
  }
}

inline void CheckGather(Collective& comm) {
  for (int root = 0; root < comm.size(); ++root) {
    absl::StatusOr<std::vector<std::string>> got = comm.Gather(Message(comm.rank(), root), root);
    if (!got.ok()) {
      ADD_FAILURE() << got.status();
      continue;
    }
    if (comm.rank() == root) {
      EXPECT_EQ(*got, AllMessages(comm.size(), root));
    } else {
      EXPECT_TRUE(got->empty());
    }
  }
}

inline void CheckAllgather(Collective& comm) {
  for (int tag = 0; tag < 3; ++tag) {
    absl::StatusOr<std::vector<std::string>> got = comm.Allgather(Message(comm.rank(), tag));
    if (!got.ok()) {
      ADD_FAILURE() << got.status();
      continue;
    }
    EXPECT_EQ(*got, AllMessages(comm.size(), tag));
  }
  // All empty.
  absl::StatusOr<std::vector<std::string>> empty = comm.Allgather("");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(*empty, std::vector<std::string>(static_cast<size_t>(comm.size())));
}

}  // namespace fedrec::comm_testing
