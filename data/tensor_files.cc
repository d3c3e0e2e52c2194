#include "data/tensor_files.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "fmt/format.h"

namespace fedrec {
namespace {

// An element type as a file describes it: its kind, width and byte order.
struct ElementType {
  enum class Kind { kFloat, kBFloat, kSigned, kUnsigned, kBool };
  Kind kind = Kind::kFloat;
  size_t bytes = 4;
  bool big_endian = false;
};

absl::Status Invalid(const std::string& name, const std::string& why) {
  return absl::InvalidArgumentError(name + ": " + why);
}

uint64_t LoadUnsigned(const uint8_t* p, size_t bytes, bool big_endian) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) {
    const size_t shift = big_endian ? (bytes - 1 - i) * 8 : i * 8;
    v |= static_cast<uint64_t>(p[i]) << shift;
  }
  return v;
}

// IEEE-754 binary16 to binary32, exact (subnormals, infinities, NaN).
float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  if (exponent != 0) {
    return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
  }
  // Zero or subnormal: mantissa * 2^-24, exact in float.
  const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  return sign != 0 ? -magnitude : magnitude;
}

// Converts `count` elements at `p` into out->floats or out->ints.
absl::Status Decode(const uint8_t* p, uint64_t count, const ElementType& type,
                    const std::string& name, Array* out) {
  const bool is_float =
      type.kind == ElementType::Kind::kFloat || type.kind == ElementType::Kind::kBFloat;
  out->kind = is_float ? Array::Kind::kFloat : Array::Kind::kInt;
  if (is_float) {
    out->floats.resize(count);
  } else {
    out->ints.resize(count);
  }
  for (uint64_t i = 0; i < count; ++i, p += type.bytes) {
    const uint64_t raw = LoadUnsigned(p, type.bytes, type.big_endian);
    switch (type.kind) {
      case ElementType::Kind::kFloat:
        if (type.bytes == 2) {
          out->floats[i] = HalfToFloat(static_cast<uint16_t>(raw));
        } else if (type.bytes == 4) {
          out->floats[i] = std::bit_cast<float>(static_cast<uint32_t>(raw));
        } else {
          out->floats[i] = static_cast<float>(std::bit_cast<double>(raw));
        }
        break;
      case ElementType::Kind::kBFloat:
        out->floats[i] = std::bit_cast<float>(static_cast<uint32_t>(raw) << 16);
        break;
      case ElementType::Kind::kSigned: {
        const unsigned shift = 64 - 8 * static_cast<unsigned>(type.bytes);
        out->ints[i] = static_cast<int64_t>(raw << shift) >> shift;  // sign-extend
        break;
      }
      case ElementType::Kind::kUnsigned:
        if (raw > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return Invalid(name, "element " + std::to_string(i) + " (" + std::to_string(raw) +
                                   ") does not fit a signed 64-bit integer");
        }
        out->ints[i] = static_cast<int64_t>(raw);
        break;
      case ElementType::Kind::kBool:
        out->ints[i] = raw != 0 ? 1 : 0;
        break;
    }
  }
  return absl::OkStatus();
}

// ---- .npy ----

absl::StatusOr<ElementType> ParseNpyDescr(const std::string& descr, const std::string& name) {
  if (descr.size() < 3) return Invalid(name, "unsupported dtype '" + descr + "'");
  ElementType t;
  const char order = descr[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') {
    return Invalid(name, "unsupported dtype '" + descr + "'");
  }
  t.big_endian = order == '>';
  const char kind = descr[1];
  const std::string width = descr.substr(2);
  if (width.size() != 1 || width[0] < '1' || width[0] > '8') {
    return Invalid(name, "unsupported dtype '" + descr + "'");
  }
  t.bytes = static_cast<size_t>(width[0] - '0');
  const bool power_of_two = t.bytes == 1 || t.bytes == 2 || t.bytes == 4 || t.bytes == 8;
  if (kind == 'f' && (t.bytes == 2 || t.bytes == 4 || t.bytes == 8)) {
    t.kind = ElementType::Kind::kFloat;
  } else if (kind == 'i' && power_of_two) {
    t.kind = ElementType::Kind::kSigned;
  } else if (kind == 'u' && power_of_two) {
    t.kind = ElementType::Kind::kUnsigned;
  } else if (kind == 'b' && t.bytes == 1) {
    t.kind = ElementType::Kind::kBool;
  } else {
    return Invalid(name, "unsupported dtype '" + descr +
                             "' (expected float16/32/64, a signed or unsigned integer, or bool)");
  }
  return t;
}

// The value of `key` in the header's Python dict literal, as raw text up to
// the next top-level comma or the closing brace.
absl::StatusOr<std::string> NpyHeaderValue(const std::string& header, const std::string& key,
                                           const std::string& name) {
  const std::string quoted[2] = {"'" + key + "'", "\"" + key + "\""};
  size_t at = std::string::npos;
  for (const std::string& q : quoted) {
    at = header.find(q);
    if (at != std::string::npos) {
      at += q.size();
      break;
    }
  }
  if (at == std::string::npos) return Invalid(name, "npy header has no '" + key + "'");
  at = header.find(':', at);
  if (at == std::string::npos) return Invalid(name, "malformed npy header");
  ++at;
  while (at < header.size() && header[at] == ' ') ++at;
  size_t end = at;
  int depth = 0;
  char quote = 0;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '(' || c == '[') {
      ++depth;
    } else if (c == ')' || c == ']') {
      --depth;
    } else if ((c == ',' || c == '}') && depth == 0) {
      break;
    }
  }
  std::string value = header.substr(at, end - at);
  while (!value.empty() && value.back() == ' ') value.pop_back();
  return value;
}

absl::StatusOr<std::vector<uint64_t>> ParseNpyShape(const std::string& text,
                                                    const std::string& name) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') {
    return Invalid(name, "malformed npy shape '" + text + "'");
  }
  std::vector<uint64_t> shape;
  size_t i = 1;
  while (i + 1 < text.size()) {
    while (i + 1 < text.size() && (text[i] == ' ' || text[i] == ',')) ++i;
    if (i + 1 >= text.size()) break;
    uint64_t v = 0;
    size_t digits = 0;
    while (i + 1 < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (v > (std::numeric_limits<uint64_t>::max() - 9) / 10) {
        return Invalid(name, "npy shape too large");
      }
      v = v * 10 + static_cast<uint64_t>(text[i] - '0');
      ++i;
      ++digits;
    }
    // Python 2 writers append L to longs.
    if (i + 1 < text.size() && text[i] == 'L') ++i;
    if (digits == 0) return Invalid(name, "malformed npy shape '" + text + "'");
    shape.push_back(v);
  }
  return shape;
}

// Element count of `shape`, InvalidArgument on overflow past `limit`.
absl::StatusOr<uint64_t> ElementCount(std::span<const uint64_t> shape, uint64_t limit,
                                      const std::string& name) {
  uint64_t count = 1;
  for (uint64_t d : shape) {
    if (d != 0 && count > limit / d) return Invalid(name, "shape larger than the file");
    count *= d;
  }
  return count;
}

// Fortran (column-major) order to C order for any rank.
template <typename T>
void FortranToC(std::span<const uint64_t> shape, std::vector<T>* values) {
  if (shape.size() < 2) return;
  std::vector<T> c(values->size());
  std::vector<uint64_t> index(shape.size(), 0);
  for (size_t f = 0; f < values->size(); ++f) {
    // index advances first-axis-fastest in Fortran order.
    uint64_t c_offset = 0;
    for (size_t axis = 0; axis < shape.size(); ++axis)
      c_offset = c_offset * shape[axis] + index[axis];
    c[c_offset] = (*values)[f];
    for (size_t axis = 0; axis < shape.size(); ++axis) {
      if (++index[axis] < shape[axis]) break;
      index[axis] = 0;
    }
  }
  values->swap(c);
}

std::string NpyShapeText(std::span<const uint64_t> shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += std::to_string(shape[i]);
    if (i + 1 < shape.size() || shape.size() == 1) s += ",";
    if (i + 1 < shape.size()) s += " ";
  }
  return s + ")";
}

template <typename T>
absl::Status WriteNpyBytes(const std::string& path, std::span<const uint64_t> shape,
                           std::span<const T> values, const char* descr) {
  absl::StatusOr<uint64_t> count = ElementCount(shape, std::numeric_limits<uint64_t>::max(), path);
  if (!count.ok()) return count.status();
  if (*count != values.size()) {
    return absl::InvalidArgumentError(path + ": " + std::to_string(values.size()) +
                                      " values for shape " + NpyShapeText(shape));
  }
  std::string header = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': " + NpyShapeText(shape) + ", }";
  // Magic (6) + version (2) + length (2) + header + '\n', padded to 64 bytes.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string bytes = "\x93NUMPY";
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xFF);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  static_assert(std::endian::native == std::endian::little);
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
  return WriteFileAtomic(path, bytes);
}

// ---- safetensors ----

absl::StatusOr<ElementType> ParseSafetensorsDtype(const std::string& dtype,
                                                  const std::string& name) {
  static const struct {
    const char* name;
    ElementType type;
  } kTypes[] = {
      {"F16", {ElementType::Kind::kFloat, 2, false}},
      {"BF16", {ElementType::Kind::kBFloat, 2, false}},
      {"F32", {ElementType::Kind::kFloat, 4, false}},
      {"F64", {ElementType::Kind::kFloat, 8, false}},
      {"I8", {ElementType::Kind::kSigned, 1, false}},
      {"I16", {ElementType::Kind::kSigned, 2, false}},
      {"I32", {ElementType::Kind::kSigned, 4, false}},
      {"I64", {ElementType::Kind::kSigned, 8, false}},
      {"U8", {ElementType::Kind::kUnsigned, 1, false}},
      {"U16", {ElementType::Kind::kUnsigned, 2, false}},
      {"U32", {ElementType::Kind::kUnsigned, 4, false}},
      {"U64", {ElementType::Kind::kUnsigned, 8, false}},
      {"BOOL", {ElementType::Kind::kBool, 1, false}},
  };
  for (const auto& t : kTypes) {
    if (dtype == t.name) return t.type;
  }
  return Invalid(name, "unsupported safetensors dtype '" + dtype + "'");
}

}  // namespace

uint64_t Array::size() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

absl::StatusOr<Array> ParseNpy(std::span<const uint8_t> bytes, const std::string& name) {
  static constexpr uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0) {
    return Invalid(name, "not a NumPy .npy file (bad magic)");
  }
  const uint8_t major = bytes[6];
  size_t header_len = 0;
  size_t header_start = 0;
  if (major == 1) {
    header_len = LoadUnsigned(bytes.data() + 8, 2, false);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Invalid(name, "truncated npy header");
    header_len = LoadUnsigned(bytes.data() + 8, 4, false);
    header_start = 12;
  } else {
    return Invalid(name, "unsupported npy format version " + std::to_string(major));
  }
  if (header_len > bytes.size() - header_start) return Invalid(name, "truncated npy header");
  const std::string header(reinterpret_cast<const char*>(bytes.data() + header_start), header_len);

  FEDREC_ASSIGN_OR_RETURN(std::string descr, NpyHeaderValue(header, "descr", name));
  if (descr.size() < 2 || (descr.front() != '\'' && descr.front() != '"')) {
    return Invalid(name, "unsupported dtype " + descr + " (structured arrays are not supported)");
  }
  descr = descr.substr(1, descr.size() - 2);
  FEDREC_ASSIGN_OR_RETURN(ElementType type, ParseNpyDescr(descr, name));
  FEDREC_ASSIGN_OR_RETURN(std::string fortran, NpyHeaderValue(header, "fortran_order", name));
  if (fortran != "True" && fortran != "False") {
    return Invalid(name, "malformed fortran_order '" + fortran + "'");
  }
  FEDREC_ASSIGN_OR_RETURN(std::string shape_text, NpyHeaderValue(header, "shape", name));

  Array out;
  out.dtype = descr;
  FEDREC_ASSIGN_OR_RETURN(out.shape, ParseNpyShape(shape_text, name));
  const size_t data_start = header_start + header_len;
  const uint64_t available = bytes.size() - data_start;
  FEDREC_ASSIGN_OR_RETURN(uint64_t count, ElementCount(out.shape, available, name));
  if (count * type.bytes != available) {
    return Invalid(name, "holds " + std::to_string(available) + " data bytes, shape " +
                             NpyShapeText(out.shape) + " of '" + descr + "' needs " +
                             std::to_string(count * type.bytes));
  }
  FEDREC_RETURN_IF_ERROR(Decode(bytes.data() + data_start, count, type, name, &out));
  if (fortran == "True") {
    FortranToC(out.shape, &out.floats);
    FortranToC(out.shape, &out.ints);
  }
  return out;
}

absl::StatusOr<Array> ReadNpy(const std::string& path) {
  FEDREC_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return ParseNpy({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, path);
}

absl::Status WriteNpy(const std::string& path, std::span<const uint64_t> shape,
                      std::span<const float> values) {
  return WriteNpyBytes(path, shape, values, "<f4");
}

absl::Status WriteNpy(const std::string& path, std::span<const uint64_t> shape,
                      std::span<const int64_t> values) {
  return WriteNpyBytes(path, shape, values, "<i8");
}

namespace {

// A header list of non-negative integers. nlohmann's get<uint64_t> casts a
// float or a negative number without a check (undefined for 1e30), so the
// element types are tested first.
absl::StatusOr<std::vector<uint64_t>> UnsignedList(const nlohmann::json& entry,
                                                   const std::string& field,
                                                   const std::string& where) {
  const auto& list = entry.at(field);
  if (!list.is_array()) {
    return absl::InvalidArgumentError(where + ": '" + field + "' is not a list");
  }
  std::vector<uint64_t> out;
  out.reserve(list.size());
  for (const auto& v : list) {
    if (!v.is_number_unsigned()) {
      // ASCII-escaped, so that a long value is cut between characters.
      std::string shown = v.dump(-1, ' ', /*ensure_ascii=*/true);
      if (shown.size() > 40) shown = shown.substr(0, 37) + "...";
      return absl::InvalidArgumentError(where + ": '" + field + "' holds " + shown +
                                        ", not a non-negative integer");
    }
    out.push_back(v.get<uint64_t>());
  }
  return out;
}

}  // namespace

absl::StatusOr<SafetensorsFile> ParseSafetensors(std::span<const uint8_t> bytes,
                                                 const std::string& name) {
  if (bytes.size() < 8) return Invalid(name, "not a safetensors file (shorter than 8 bytes)");
  const uint64_t header_len = LoadUnsigned(bytes.data(), 8, false);
  if (header_len > bytes.size() - 8) {
    return Invalid(name, "not a safetensors file (header length " + std::to_string(header_len) +
                             " exceeds the file)");
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + header_len);
  } catch (const nlohmann::json::exception& e) {
    return Invalid(name, std::string("malformed safetensors header: ") + e.what());
  }
  if (!header.is_object()) return Invalid(name, "safetensors header is not a JSON object");
  const uint8_t* data = bytes.data() + 8 + header_len;
  const uint64_t data_size = bytes.size() - 8 - header_len;

  SafetensorsFile file;
  try {
    for (const auto& [key, entry] : header.items()) {
      if (key == "__metadata__") {
        for (const auto& [mk, mv] : entry.items()) {
          file.metadata[mk] = mv.is_string() ? mv.get<std::string>() : mv.dump();
        }
        continue;
      }
      const std::string where = fmt::format("{}: tensor '{}'", name, key);
      Array array;
      array.dtype = entry.at("dtype").get<std::string>();
      FEDREC_ASSIGN_OR_RETURN(ElementType type, ParseSafetensorsDtype(array.dtype, where));
      FEDREC_ASSIGN_OR_RETURN(array.shape, UnsignedList(entry, "shape", where));
      FEDREC_ASSIGN_OR_RETURN(const std::vector<uint64_t> offsets,
                              UnsignedList(entry, "data_offsets", where));
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size) {
        return absl::InvalidArgumentError(where + ": data_offsets outside the file");
      }
      FEDREC_ASSIGN_OR_RETURN(uint64_t count, ElementCount(array.shape, data_size, where));
      if (count * type.bytes != offsets[1] - offsets[0]) {
        return absl::InvalidArgumentError(where + ": " + std::to_string(offsets[1] - offsets[0]) +
                                          " bytes for " + std::to_string(count) + " elements of " +
                                          array.dtype);
      }
      FEDREC_RETURN_IF_ERROR(Decode(data + offsets[0], count, type, where, &array));
      file.tensors.emplace(key, std::move(array));
    }
  } catch (const nlohmann::json::exception& e) {
    return Invalid(name, std::string("malformed safetensors header: ") + e.what());
  }
  return file;
}

absl::StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path) {
  FEDREC_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return ParseSafetensors({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, path);
}

absl::Status WriteSafetensors(const std::string& path,
                              const std::map<std::string, Array>& tensors) {
  static_assert(std::endian::native == std::endian::little);
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [key, array] : tensors) {
    if (key == "__metadata__") return Invalid(path, "'__metadata__' is not a tensor name");
    const bool is_float = array.kind == Array::Kind::kFloat;
    const size_t count = is_float ? array.floats.size() : array.ints.size();
    if (count != array.size()) {
      return Invalid(path,
                     "tensor '" + key + "' has " + std::to_string(count) + " values for its shape");
    }
    const uint64_t begin = data.size();
    if (is_float) {
      data.append(reinterpret_cast<const char*>(array.floats.data()), count * sizeof(float));
    } else {
      data.append(reinterpret_cast<const char*>(array.ints.data()), count * sizeof(int64_t));
    }
    header[key] = {{"dtype", is_float ? "F32" : "I64"},
                   {"shape", array.shape},
                   {"data_offsets", {begin, static_cast<uint64_t>(data.size())}}};
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
  std::string bytes(8, '\0');
  for (size_t i = 0; i < 8; ++i) bytes[i] = static_cast<char>((text.size() >> (8 * i)) & 0xFF);
  bytes += text;
  bytes += data;
  return WriteFileAtomic(path, bytes);
}

}  // namespace fedrec
