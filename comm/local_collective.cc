#include "comm/local_collective.h"

#include <algorithm>
#include <string>
#include <utility>

#include "comm/deadline.h"
#include "core/status.h"

namespace fedrec {

using local_collective_internal::DeadlineBarrier;
using local_collective_internal::SharedState;
using local_collective_internal::Slot;

DeadlineBarrier::DeadlineBarrier(int size)
    : size_(size), arrived_in_(static_cast<size_t>(size), 0) {}

absl::Status DeadlineBarrier::ArriveAndWait(int rank, std::chrono::milliseconds timeout,
                                            const char* op) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!broken_.ok()) return broken_;
  const uint64_t generation = generation_;
  arrived_in_[static_cast<size_t>(rank)] = generation + 1;
  if (++arrived_ == size_) {
    arrived_ = 0;
    ++generation_;
    cv_.notify_all();
    return absl::OkStatus();
  }
  auto done = [&] { return generation_ != generation || !broken_.ok(); };
  if (timeout <= std::chrono::milliseconds::zero()) {
    cv_.wait(lock, done);
  } else if (!cv_.wait_for(lock, timeout, done)) {
    std::vector<int> missing;
    for (int r = 0; r < size_; ++r) {
      if (arrived_in_[static_cast<size_t>(r)] != generation + 1) missing.push_back(r);
    }
    broken_ = RanksDidNotArrive(op, missing, timeout);
    cv_.notify_all();
  }
  // A meeting that completed stays a success even if the barrier broke since.
  return generation_ != generation ? absl::OkStatus() : broken_;
}

LocalCollective::LocalCollective(int rank, int size, std::shared_ptr<SharedState> state)
    : rank_(rank), size_(size), state_(std::move(state)) {}

absl::Status LocalCollective::Publish(const Slot& slot, const char* op) {
  state_->slots[static_cast<size_t>(rank_)] = slot;
  return state_->barrier.ArriveAndWait(rank_, timeout(), op);
}

absl::Status LocalCollective::Meet(const char* op) {
  return state_->barrier.ArriveAndWait(rank_, std::chrono::milliseconds::zero(), op);
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
  FEDREC_RETURN_IF_ERROR(Publish(Slot{data.data(), data.size(), -1}, "allreduce"));
  const size_t n = data.size();
  for (int r = 0; r < size_; ++r) {
    if (state_->slots[static_cast<size_t>(r)].length != n) {
      // Every rank sees the same slots, so every rank returns here alike.
      FEDREC_RETURN_IF_ERROR(Meet("allreduce"));
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
  FEDREC_RETURN_IF_ERROR(Meet("allreduce"));  // all reads of the inputs are done
  for (size_t r = 0; r < ranks; ++r) {
    T* dst = static_cast<T*>(state_->slots[r].data);
    std::copy(sum.begin(), sum.end(), dst + begin);
  }
  return Meet("allreduce");  // all slices are written everywhere
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
  FEDREC_RETURN_IF_ERROR(Publish(Slot{bytes, 0, root}, "broadcast"));
  absl::Status status = CheckSameRoot(root, "Broadcast");
  if (status.ok() && rank_ != root) {
    *bytes = *static_cast<const std::string*>(state_->slots[static_cast<size_t>(root)].data);
  }
  FEDREC_RETURN_IF_ERROR(Meet("broadcast"));  // root's string stays untouched until here
  return status;
}

absl::StatusOr<std::vector<std::string>> LocalCollective::Gather(const std::string& bytes,
                                                                 int root) {
  if (root < 0 || root >= size_) {
    return absl::InvalidArgumentError("comm: local Gather: root " + std::to_string(root) +
                                      " is not a rank of a group of " + std::to_string(size_));
  }
  FEDREC_RETURN_IF_ERROR(Publish(Slot{const_cast<std::string*>(&bytes), 0, root}, "gather"));
  absl::Status status = CheckSameRoot(root, "Gather");
  std::vector<std::string> out;
  if (status.ok() && rank_ == root) {
    out.reserve(static_cast<size_t>(size_));
    for (const Slot& slot : state_->slots)
      out.push_back(*static_cast<const std::string*>(slot.data));
  }
  FEDREC_RETURN_IF_ERROR(Meet("gather"));
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<std::vector<std::string>> LocalCollective::Allgather(const std::string& bytes) {
  FEDREC_RETURN_IF_ERROR(Publish(Slot{const_cast<std::string*>(&bytes), 0, -1}, "allgather"));
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(size_));
  for (const Slot& slot : state_->slots) out.push_back(*static_cast<const std::string*>(slot.data));
  FEDREC_RETURN_IF_ERROR(Meet("allgather"));
  return out;
}

absl::Status LocalCollective::Barrier() {
  return state_->barrier.ArriveAndWait(rank_, timeout(), "barrier");
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
