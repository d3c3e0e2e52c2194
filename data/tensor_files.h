// NumPy .npy and Hugging Face safetensors files: the formats in which item
// features and pretrained weights arrive from Python.
//
// Readers convert on load: floating dtypes (f2, f4, f8; safetensors F16,
// BF16, F32, F64) to float32, integer dtypes (i1..i8, u1..u8; safetensors
// I8..I64, U8..U64, BOOL) to int64 (a u8 value above INT64_MAX is refused).
// .npy: format versions 1.0-3.0, either byte order, C or Fortran order (a
// Fortran-order array is returned in C order). Writers write float32 or
// int64 little-endian, atomically (core/atomic_file.h).
//
// Errors name the file: InvalidArgument "<path>: <reason>" for a malformed
// header, an unsupported dtype, or a size that disagrees with the shape;
// NotFound for a missing file.
//
// Thread-safety: free functions, no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace fedrec {

struct Array {
  enum class Kind { kFloat, kInt };
  Kind kind = Kind::kFloat;
  std::string dtype;            // as the file spelled it: "<f4", "F16", "I64", ...
  std::vector<uint64_t> shape;  // empty for a scalar
  std::vector<float> floats;    // kFloat: the values, row-major (C order)
  std::vector<int64_t> ints;    // kInt: the values, row-major

  uint64_t size() const;  // product of shape (1 for a scalar)
};

absl::StatusOr<Array> ReadNpy(const std::string& path);
// Parses .npy bytes; `name` is used in messages.
absl::StatusOr<Array> ParseNpy(std::span<const uint8_t> bytes, const std::string& name);

absl::Status WriteNpy(const std::string& path, std::span<const uint64_t> shape,
                      std::span<const float> values);
absl::Status WriteNpy(const std::string& path, std::span<const uint64_t> shape,
                      std::span<const int64_t> values);

// Every tensor of a safetensors file by name (its "__metadata__" entry is
// kept apart).
struct SafetensorsFile {
  std::map<std::string, Array> tensors;
  std::map<std::string, std::string> metadata;
};
absl::StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path);
absl::StatusOr<SafetensorsFile> ParseSafetensors(std::span<const uint8_t> bytes,
                                                 const std::string& name);

// Writes F32 tensors (and I64 for Kind::kInt arrays) with their shapes.
absl::Status WriteSafetensors(const std::string& path, const std::map<std::string, Array>& tensors);

}  // namespace fedrec
