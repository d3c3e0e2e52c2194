#include "convert.h"

#include <limits>
#include <string>

namespace fedrec::python {

absl::StatusOr<uint32_t> ToU32(int64_t value, const char* name) {
  if (value < 0 || value > std::numeric_limits<uint32_t>::max()) {
    return InvalidInput(name, "must be in [0, 2^32) (got " + std::to_string(value) + ")");
  }
  return static_cast<uint32_t>(value);
}

absl::StatusOr<LoadOptions> ToLoadOptions(const LoadArgs& a) {
  LoadOptions options;
  FEDREC_ASSIGN_OR_RETURN(options.format, ParseDataFormat(a.format));
  FEDREC_ASSIGN_OR_RETURN(options.min_count, ToU32(a.min_count, "min_count"));
  FEDREC_ASSIGN_OR_RETURN(options.kcore, ToU32(a.kcore, "kcore"));
  options.dedupe_consecutive = a.dedupe;
  options.use_cache = a.use_cache;
  options.cache_dir = a.cache_dir;
  FEDREC_ASSIGN_OR_RETURN(options.csv,
                          ParseCsvColumns(a.csv_columns, a.csv_delimiter, a.csv_header));
  return options;
}

void RaiseStatus(const absl::Status& status) {
  const std::string message(status.message());
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      throw py::value_error(message);
    case absl::StatusCode::kNotFound:
      // pybind11 has no C++ type for FileNotFoundError; set it directly.
      PyErr_SetString(PyExc_FileNotFoundError, message.c_str());
      throw py::error_already_set();
    default:
      throw std::runtime_error(message);  // pybind11 translates to RuntimeError
  }
}

py::object JsonToPython(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      return py::none();
    case nlohmann::json::value_t::boolean:
      return py::bool_(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return py::int_(j.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return py::int_(j.get<uint64_t>());
    case nlohmann::json::value_t::number_float:
      return py::float_(j.get<double>());
    case nlohmann::json::value_t::string:
      return py::str(j.get_ref<const std::string&>());
    case nlohmann::json::value_t::binary:
      return py::bytes(std::string(j.get_binary().begin(), j.get_binary().end()));
    case nlohmann::json::value_t::array: {
      py::list list;
      for (const nlohmann::json& e : j) list.append(JsonToPython(e));
      return list;
    }
    case nlohmann::json::value_t::object: {
      py::dict dict;
      for (const auto& [key, value] : j.items()) dict[py::str(key)] = JsonToPython(value);
      return dict;
    }
  }
  return py::none();
}

}  // namespace fedrec::python
