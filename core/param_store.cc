#include "core/param_store.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace fedrec {

void ParameterStore::AlignedFree::operator()(float* p) const { std::free(p); }

std::unique_ptr<float[], ParameterStore::AlignedFree> ParameterStore::Allocate(size_t n) {
  if (n == 0) return nullptr;
  // aligned_alloc wants a size that is a multiple of the alignment.
  size_t bytes = n * sizeof(float);
  bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, bytes);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return std::unique_ptr<float[], AlignedFree>(static_cast<float*>(p));
}

ParameterStore::ParameterStore(const ParameterStore& other)
    : layout_(other.layout_),
      index_(other.index_),
      size_(other.size_),
      finalized_(other.finalized_) {
  if (finalized_) {
    data_ = Allocate(size_);
    if (size_ > 0) std::memcpy(data_.get(), other.data_.get(), size_ * sizeof(float));
  }
}

ParameterStore& ParameterStore::operator=(const ParameterStore& other) {
  if (this != &other) {
    ParameterStore copy(other);
    *this = std::move(copy);
  }
  return *this;
}

absl::Status ParameterStore::Add(const std::string& name, size_t rows, size_t cols) {
  if (finalized_) {
    return absl::FailedPreconditionError("parameter store: Add('" + name + "') after Finalize()");
  }
  if (name.empty()) return InvalidInput("parameter store", "empty tensor name");
  if (rows == 0 || cols == 0) {
    return InvalidInput("parameter store", "tensor '" + name + "' has a zero dimension (" +
                                               std::to_string(rows) + " x " + std::to_string(cols) +
                                               ")");
  }
  if (index_.contains(name)) {
    return InvalidInput("parameter store", "duplicate tensor name '" + name + "'");
  }
  // Sizes come from configs and files: refuse what overflows the float count.
  constexpr size_t kMaxFloats = std::numeric_limits<size_t>::max() / sizeof(float);
  if (rows > kMaxFloats / cols || rows * cols > kMaxFloats - size_) {
    return InvalidInput("parameter store", "tensor '" + name + "' is too large (" +
                                               std::to_string(rows) + " x " + std::to_string(cols) +
                                               ")");
  }
  index_.emplace(name, layout_.size());
  layout_.push_back(TensorLayout{name, rows, cols, size_});
  size_ += rows * cols;
  return absl::OkStatus();
}

void ParameterStore::Finalize() {
  if (finalized_) return;
  data_ = Allocate(size_);
  finalized_ = true;
}

absl::StatusOr<TensorView> ParameterStore::View(const std::string& name) {
  if (!finalized_) return absl::FailedPreconditionError("parameter store: not finalized");
  auto it = index_.find(name);
  if (it == index_.end()) {
    return absl::NotFoundError("parameter store: no tensor named '" + name + "'");
  }
  return ViewAt(it->second);
}

absl::StatusOr<ConstTensorView> ParameterStore::View(const std::string& name) const {
  if (!finalized_) return absl::FailedPreconditionError("parameter store: not finalized");
  auto it = index_.find(name);
  if (it == index_.end()) {
    return absl::NotFoundError("parameter store: no tensor named '" + name + "'");
  }
  return ViewAt(it->second);
}

TensorView ParameterStore::ViewAt(size_t k) {
  const TensorLayout& t = layout_.at(k);
  return TensorView{data_.get() + t.offset, t.rows, t.cols};
}

ConstTensorView ParameterStore::ViewAt(size_t k) const {
  const TensorLayout& t = layout_.at(k);
  return ConstTensorView{data_.get() + t.offset, t.rows, t.cols};
}

bool ParameterStore::operator==(const ParameterStore& other) const {
  if (layout_ != other.layout_ || finalized_ != other.finalized_) return false;
  if (!finalized_ || size_ == 0) return true;
  return std::memcmp(data_.get(), other.data_.get(), size_ * sizeof(float)) == 0;
}

void ParameterStore::SetZero() {
  if (finalized_ && size_ > 0) std::memset(data_.get(), 0, size_ * sizeof(float));
}

}  // namespace fedrec
