// Bounds-checked little-endian byte writer/reader for the secure-aggregation
// messages. Every read checks the remaining length; a short or malformed
// message is InvalidArgument naming the message, never a crash or an
// over-read.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "core/status.h"

namespace fedrec::secagg {

class ByteWriter {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { Fixed(v, 4); }
  void U64(uint64_t v) { Fixed(v, 8); }
  void Raw(std::span<const uint8_t> bytes) {
    out_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  // u32 length, then the bytes.
  void Blob(std::span<const uint8_t> bytes) {
    U32(static_cast<uint32_t>(bytes.size()));
    Raw(bytes);
  }
  void Blob(const std::string& s) {
    Blob(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }
  std::string Take() { return std::move(out_); }
  size_t size() const { return out_.size(); }

 private:
  void Fixed(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  std::string out_;
};

class ByteReader {
 public:
  ByteReader(const std::string& bytes, const char* what)
      : data_(reinterpret_cast<const uint8_t*>(bytes.data())), size_(bytes.size()), what_(what) {}

  absl::StatusOr<uint8_t> U8() {
    FEDREC_RETURN_IF_ERROR(Need(1));
    return data_[pos_++];
  }
  absl::StatusOr<uint32_t> U32() { return Fixed<uint32_t>(4); }
  absl::StatusOr<uint64_t> U64() { return Fixed<uint64_t>(8); }
  // A view into the message of exactly n bytes.
  absl::StatusOr<std::span<const uint8_t>> Raw(size_t n) {
    FEDREC_RETURN_IF_ERROR(Need(n));
    std::span<const uint8_t> s(data_ + pos_, n);
    pos_ += n;
    return s;
  }
  absl::StatusOr<std::span<const uint8_t>> Blob() {
    FEDREC_ASSIGN_OR_RETURN(uint32_t n, U32());
    return Raw(n);
  }
  // Count of following items, each at least `min_item_bytes` long: refuses
  // counts the remaining bytes cannot hold (no huge allocations from a
  // corrupt length).
  absl::StatusOr<size_t> Count(size_t min_item_bytes) {
    FEDREC_ASSIGN_OR_RETURN(uint32_t n, U32());
    if (min_item_bytes > 0 && n > (size_ - pos_) / min_item_bytes) return Bad("count too large");
    return static_cast<size_t>(n);
  }
  absl::Status ExpectEnd() const {
    return pos_ == size_ ? absl::OkStatus() : Bad("trailing bytes");
  }
  absl::Status Bad(const std::string& why) const {
    return absl::InvalidArgumentError(std::string("secagg: malformed ") + what_ +
                                      " message: " + why);
  }

 private:
  absl::Status Need(size_t n) const {
    return n <= size_ - pos_ ? absl::OkStatus() : Bad("truncated");
  }
  template <typename T>
  absl::StatusOr<T> Fixed(int bytes) {
    FEDREC_RETURN_IF_ERROR(Need(static_cast<size_t>(bytes)));
    T v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = static_cast<T>((v << 8) | data_[pos_ + i]);
    pos_ += static_cast<size_t>(bytes);
    return v;
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const char* what_;
};

}  // namespace fedrec::secagg
