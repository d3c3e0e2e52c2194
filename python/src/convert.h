// Conversions at the Python boundary: absl::Status -> Python exceptions,
// nlohmann::json -> Python objects.
#pragma once

#include <pybind11/pybind11.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "core/status.h"

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

// The binding groups, one per file.
void BindPrivacy(py::module_& m);
void BindData(py::module_& m);
void BindModel(py::module_& m);
void BindTrain(py::module_& m);

}  // namespace fedrec::python
