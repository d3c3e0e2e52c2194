#include "comm/local_collective.h"

#include <algorithm>
#include <string>
#include <utility>

namespace fedrec {

using local_collective_internal::SharedState;
using local_collective_internal::Slot;

LocalCollective::LocalCollective(int rank, int size, std::shared_ptr<SharedState> state)
    : rank_(rank), size_(size), state_(std::move(state)) {}

void LocalCollective::Publish(const Slot& slot) {
  state_->slots[static_cast<size_t>(rank_)] = slot;
  state_->barrier.arrive_and_wait();
}

absl::Status LocalCollective::CheckSameRoot(int root, const char* op) const {
  for (int r = 0; r < size_; ++r) {
    if (state_->slots[static_cast<size_t>(r)].root != root) {
      return absl::InvalidArgumentError(std::string("comm: local ") + op +
                                        ": ranks passed different roots");
    }
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status LocalCollective::AllreduceSumImpl(std::span<T> data) {
  Publish(Slot{data.data(), data.size(), -1});
  const size_t n = data.size();
  for (int r = 0; r < size_; ++r) {
    if (state_->slots[static_cast<size_t>(r)].length != n) {
      // Every rank sees the same slots, so every rank returns here alike.
      state_->barrier.arrive_and_wait();
      return absl::InvalidArgumentError(
          "comm: local AllreduceSum: ranks passed spans of "
          "different lengths");
    }
  }
  // Slice [begin, end) of the index range is this rank's to reduce.
  const size_t ranks = static_cast<size_t>(size_);
  const size_t me = static_cast<size_t>(rank_);
  const size_t begin = n * me / ranks;
  const size_t end = n * (me + 1) / ranks;
  std::vector<T> sum(end - begin, T{0});
  for (size_t r = 0; r < ranks; ++r) {  // fixed rank order
    const T* src = static_cast<const T*>(state_->slots[r].data);
    for (size_t i = begin; i < end; ++i) sum[i - begin] += src[i];  // wraps mod 2^b
  }
  state_->barrier.arrive_and_wait();  // all reads of the inputs are done
  for (size_t r = 0; r < ranks; ++r) {
    T* dst = static_cast<T*>(state_->slots[r].data);
    std::copy(sum.begin(), sum.end(), dst + begin);
  }
  state_->barrier.arrive_and_wait();  // all slices are written everywhere
  return absl::OkStatus();
}

absl::Status LocalCollective::AllreduceSum(std::span<uint32_t> data) {
  return AllreduceSumImpl(data);
}

absl::Status LocalCollective::AllreduceSum(std::span<uint64_t> data) {
  return AllreduceSumImpl(data);
}

absl::Status LocalCollective::Broadcast(std::string* bytes, int root) {
  if (bytes == nullptr) return absl::InvalidArgumentError("comm: local Broadcast: null bytes");
  if (root < 0 || root >= size_) {
    return absl::InvalidArgumentError("comm: local Broadcast: root " + std::to_string(root) +
                                      " is not a rank of a group of " + std::to_string(size_));
  }
  Publish(Slot{bytes, 0, root});
  absl::Status status = CheckSameRoot(root, "Broadcast");
  if (status.ok() && rank_ != root) {
    *bytes = *static_cast<const std::string*>(state_->slots[static_cast<size_t>(root)].data);
  }
  state_->barrier.arrive_and_wait();  // root's string stays untouched until here
  return status;
}

absl::StatusOr<std::vector<std::string>> LocalCollective::Gather(const std::string& bytes,
                                                                 int root) {
  if (root < 0 || root >= size_) {
    return absl::InvalidArgumentError("comm: local Gather: root " + std::to_string(root) +
                                      " is not a rank of a group of " + std::to_string(size_));
  }
  Publish(Slot{const_cast<std::string*>(&bytes), 0, root});
  absl::Status status = CheckSameRoot(root, "Gather");
  std::vector<std::string> out;
  if (status.ok() && rank_ == root) {
    out.reserve(static_cast<size_t>(size_));
    for (const Slot& slot : state_->slots)
      out.push_back(*static_cast<const std::string*>(slot.data));
  }
  state_->barrier.arrive_and_wait();
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<std::vector<std::string>> LocalCollective::Allgather(const std::string& bytes) {
  Publish(Slot{const_cast<std::string*>(&bytes), 0, -1});
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(size_));
  for (const Slot& slot : state_->slots) out.push_back(*static_cast<const std::string*>(slot.data));
  state_->barrier.arrive_and_wait();
  return out;
}

absl::Status LocalCollective::Barrier() {
  state_->barrier.arrive_and_wait();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LocalCollectiveGroup>> LocalCollectiveGroup::Create(int size) {
  if (size < 1) {
    return absl::InvalidArgumentError("comm: local group size must be >= 1, got " +
                                      std::to_string(size));
  }
  return std::unique_ptr<LocalCollectiveGroup>(new LocalCollectiveGroup(size));
}

LocalCollectiveGroup::LocalCollectiveGroup(int size) {
  auto state = std::make_shared<SharedState>(size);
  ranks_.reserve(static_cast<size_t>(size));
  for (int r = 0; r < size; ++r)
    ranks_.push_back(std::make_unique<LocalCollective>(r, size, state));
}

}  // namespace fedrec
