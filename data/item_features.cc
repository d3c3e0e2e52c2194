#include "data/item_features.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <unordered_map>

#include "core/sha256.h"
#include "data/tensor_files.h"
#include "fmt/format.h"

namespace fedrec {
namespace {

absl::Status Invalid(const std::string& path, const std::string& why) {
  return absl::InvalidArgumentError(path + ": " + why);
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The features matrix [rows x dim] and the original id of each row.
struct RawFeatures {
  std::vector<float> values;
  uint64_t rows = 0;
  uint64_t dim = 0;
  std::vector<int64_t> ids;
  std::string ids_path;  // empty when the ids come from the features file
};

absl::StatusOr<std::vector<int64_t>> ReadIdList(const std::string& path) {
  if (EndsWith(path, ".npy")) {
    FEDREC_ASSIGN_OR_RETURN(Array ids, ReadNpy(path));
    if (ids.kind != Array::Kind::kInt) {
      return Invalid(path, "the id list must hold integers, not '" + ids.dtype + "'");
    }
    if (ids.shape.size() != 1 && !(ids.shape.size() == 2 && ids.shape[1] == 1)) {
      return Invalid(path, "the id list must be one-dimensional");
    }
    return std::move(ids.ints);
  }
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(path + ": cannot open the id list");
  std::vector<int64_t> ids;
  std::string line;
  uint64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) continue;
    size_t used = 0;
    int64_t id = 0;
    try {
      id = std::stoll(line, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != line.size()) {
      return Invalid(path + ":" + std::to_string(line_number),
                     "not an integer item id: '" + line + "'");
    }
    ids.push_back(id);
  }
  return ids;
}

// <stem>.ids.npy or <stem>.ids.txt beside a .npy file.
absl::StatusOr<std::string> CompanionIdList(const std::string& path) {
  const std::string stem = EndsWith(path, ".npy") ? path.substr(0, path.size() - 4) : path;
  for (const char* ext : {".ids.npy", ".ids.txt"}) {
    if (std::filesystem::exists(stem + ext)) return stem + ext;
  }
  return Invalid(path, "no item id list: expected " + stem + ".ids.npy or " + stem +
                           ".ids.txt beside it (or set data.item_features_ids)");
}

absl::Status TakeMatrix(Array array, const std::string& path, RawFeatures* raw) {
  if (array.kind != Array::Kind::kFloat) {
    return Invalid(
        path, "features must be float16, bfloat16, float32 or float64, not '" + array.dtype + "'");
  }
  if (array.shape.size() != 2 || array.shape[1] == 0) {
    std::string shape;
    for (uint64_t d : array.shape) shape += (shape.empty() ? "" : " x ") + std::to_string(d);
    return Invalid(path, "features must be a 2-D matrix [items x dim], not [" + shape + "]");
  }
  raw->rows = array.shape[0];
  raw->dim = array.shape[1];
  raw->values = std::move(array.floats);
  return absl::OkStatus();
}

absl::StatusOr<RawFeatures> ReadNpyFeatures(const ItemFeatureSource& source) {
  RawFeatures raw;
  FEDREC_ASSIGN_OR_RETURN(Array array, ReadNpy(source.path));
  FEDREC_RETURN_IF_ERROR(TakeMatrix(std::move(array), source.path, &raw));
  if (source.ids == "column") {
    if (raw.dim < 2) return Invalid(source.path, "an id column needs at least 2 columns");
    std::vector<float> values(raw.rows * (raw.dim - 1));
    raw.ids.resize(raw.rows);
    for (uint64_t r = 0; r < raw.rows; ++r) {
      const float id = raw.values[r * raw.dim];
      // Every integer up to 2^24 is exact in float32; beyond, ids may collide.
      if (!(id >= 0 && id <= 16777216.0f) || id != std::floor(id)) {
        return Invalid(source.path, "row " + std::to_string(r) +
                                        ": the id column holds a value that is not an integer id "
                                        "in [0, 2^24] (use a separate id list)");
      }
      raw.ids[r] = static_cast<int64_t>(id);
      std::copy_n(raw.values.begin() + static_cast<std::ptrdiff_t>(r * raw.dim + 1), raw.dim - 1,
                  values.begin() + static_cast<std::ptrdiff_t>(r * (raw.dim - 1)));
    }
    raw.values = std::move(values);
    --raw.dim;
    return raw;
  }
  if (source.ids == "auto") {
    FEDREC_ASSIGN_OR_RETURN(raw.ids_path, CompanionIdList(source.path));
  } else {
    raw.ids_path = source.ids;
  }
  FEDREC_ASSIGN_OR_RETURN(raw.ids, ReadIdList(raw.ids_path));
  return raw;
}

absl::StatusOr<RawFeatures> ReadSafetensorsFeatures(const ItemFeatureSource& source) {
  FEDREC_ASSIGN_OR_RETURN(SafetensorsFile file, ReadSafetensors(source.path));
  RawFeatures raw;
  std::string matrix_name;
  std::string ids_name;
  for (auto& [name, array] : file.tensors) {
    if (array.kind == Array::Kind::kFloat && array.shape.size() == 2) {
      if (!matrix_name.empty()) {
        return Invalid(source.path, fmt::format("holds two float matrices ('{}', '{}'); keep one "
                                                "features matrix per file",
                                                matrix_name, name));
      }
      matrix_name = name;
    } else if (array.kind == Array::Kind::kInt && array.shape.size() == 1) {
      if (!ids_name.empty()) {
        return Invalid(source.path, fmt::format("holds two integer vectors ('{}', '{}'); keep one "
                                                "id vector per file",
                                                ids_name, name));
      }
      ids_name = name;
    }
  }
  if (matrix_name.empty()) return Invalid(source.path, "holds no 2-D float features matrix");
  FEDREC_RETURN_IF_ERROR(TakeMatrix(std::move(file.tensors[matrix_name]), source.path, &raw));
  if (source.ids == "auto") {
    if (ids_name.empty()) return Invalid(source.path, "holds no 1-D integer tensor of item ids");
    raw.ids = std::move(file.tensors[ids_name].ints);
  } else if (source.ids == "column") {
    return Invalid(source.path, "data.item_features_ids = \"column\" applies to .npy files only");
  } else {
    raw.ids_path = source.ids;
    FEDREC_ASSIGN_OR_RETURN(raw.ids, ReadIdList(raw.ids_path));
  }
  return raw;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ItemFeatures>> LoadItemFeatures(
    const ItemFeatureSource& source, std::span<const uint64_t> item_ids) {
  const std::string& path = source.path;
  if (!std::filesystem::exists(path)) return absl::NotFoundError(path + ": no such file");
  RawFeatures raw;
  if (EndsWith(path, ".npy")) {
    FEDREC_ASSIGN_OR_RETURN(raw, ReadNpyFeatures(source));
  } else if (EndsWith(path, ".safetensors")) {
    FEDREC_ASSIGN_OR_RETURN(raw, ReadSafetensorsFeatures(source));
  } else {
    return Invalid(path, "unknown item features format (expected .npy or .safetensors)");
  }
  const std::string& ids_where = raw.ids_path.empty() ? path : raw.ids_path;
  if (raw.ids.size() != raw.rows) {
    return Invalid(ids_where, std::to_string(raw.ids.size()) + " item ids for " +
                                  std::to_string(raw.rows) + " feature rows");
  }
  if (raw.dim > std::numeric_limits<uint32_t>::max()) return Invalid(path, "feature dim too large");

  std::unordered_map<int64_t, uint64_t> row_of;
  row_of.reserve(raw.rows);
  for (uint64_t r = 0; r < raw.rows; ++r) {
    if (!row_of.emplace(raw.ids[r], r).second) {
      return Invalid(ids_where, "item id " + std::to_string(raw.ids[r]) + " appears twice (rows " +
                                    std::to_string(row_of[raw.ids[r]]) + " and " +
                                    std::to_string(r) + ")");
    }
  }
  auto features = std::make_shared<ItemFeatures>();
  features->num_items = static_cast<uint32_t>(item_ids.size());
  features->dim = static_cast<uint32_t>(raw.dim);
  features->path = path;
  features->values.resize(item_ids.size() * raw.dim);
  for (size_t item = 0; item < item_ids.size(); ++item) {
    const auto id = static_cast<int64_t>(item_ids[item]);
    const auto it = row_of.find(id);
    if (item_ids[item] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        it == row_of.end()) {
      return Invalid(
          path, "item " + std::to_string(item_ids[item]) + " of the dataset has no feature row");
    }
    const float* row = raw.values.data() + it->second * raw.dim;
    for (uint64_t c = 0; c < raw.dim; ++c) {
      if (!std::isfinite(row[c])) {
        return Invalid(path, "row " + std::to_string(it->second) + " (item " + std::to_string(id) +
                                 ") holds a non-finite value in column " + std::to_string(c));
      }
    }
    std::copy_n(row, raw.dim,
                features->values.begin() + static_cast<std::ptrdiff_t>(item * raw.dim));
  }

  FEDREC_ASSIGN_OR_RETURN(Sha256Digest digest, Sha256OfFile(path));
  features->sha256 = ToHex(digest);
  if (!raw.ids_path.empty()) {
    FEDREC_ASSIGN_OR_RETURN(Sha256Digest ids_digest, Sha256OfFile(raw.ids_path));
    features->sha256 = ToHex(Sha256Of(features->sha256 + ToHex(ids_digest)));
  }
  return std::shared_ptr<const ItemFeatures>(std::move(features));
}

}  // namespace fedrec
