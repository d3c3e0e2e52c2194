// Conversions at the Python boundary: absl::Status -> Python exceptions,
// nlohmann::json -> Python objects.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "core/status.h"
#include "data/loader.h"

namespace fedrec::python {

namespace py = pybind11;

// Raises the Python exception for a failed status, with the status message
// as its text: InvalidArgument -> ValueError, NotFound -> FileNotFoundError,
// every other code -> RuntimeError. Must be called with the GIL held.
[[noreturn]] void RaiseStatus(const absl::Status& status);

inline void Check(const absl::Status& status) {
  if (!status.ok()) RaiseStatus(status);
}

template <typename T>
T Unwrap(absl::StatusOr<T> value) {
  if (!value.ok()) RaiseStatus(value.status());
  return std::move(value).value();
}

// null -> None, booleans, integers, floats, strings, arrays -> list,
// objects -> dict (keys in the JSON object's order).
py::object JsonToPython(const nlohmann::json& j);

// Python ints are unbounded; counts and options are uint32 (as the CLI's
// flags). InvalidArgument naming `name` outside [0, 2^32).
absl::StatusOr<uint32_t> ToU32(int64_t value, const char* name);

// How a dataset is read: the CLI's data flags with Python names
// (fedrec.data.stats, fedrec.Model.evaluate).
struct LoadArgs {
  std::string format = "auto";
  int64_t min_count = 0;
  int64_t kcore = 0;
  bool dedupe = false;
  bool use_cache = true;
  std::string cache_dir;
  std::string csv_columns = "0,1";
  std::string csv_delimiter = ",";
  bool csv_header = true;
};
absl::StatusOr<LoadOptions> ToLoadOptions(const LoadArgs& args);

// The binding groups, one per file.
void BindPrivacy(py::module_& m);
void BindData(py::module_& m);
void BindModel(py::module_& m);
void BindTrain(py::module_& m);

}  // namespace fedrec::python
