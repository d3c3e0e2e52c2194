// The config key registry, internal to core/config.cc (parsing, overrides,
// validation, ToToml, the markdown table) and core/config_keys.cc (the
// table itself). Not an API: config.h is.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/config.h"

namespace fedrec::config_internal {

enum class KeyType { kInt, kFloat, kBool, kString };
using Value = std::variant<int64_t, double, bool, std::string>;

// Returns "" when the value is fine, else what is wrong ("must be > 0").
using Validator = std::function<std::string(const Value&)>;

// One config key: its name, type and doc, its check, and how to read and
// write its member of Config.
struct KeySpec {
  std::string section;  // "" for top-level keys
  std::string key;
  KeyType type;
  bool optional;  // may be unset (std::optional member)
  std::string doc;
  Validator validate;  // may be empty
  // Reads the member (nullopt for an unset optional).
  std::function<std::optional<Value>(const Config&)> get;
  // Writes the member; the value has the key's type.
  std::function<void(Config&, const Value&)> set;

  std::string Name() const { return section.empty() ? key : section + "." + key; }
};

// Every key, in the order ToToml() writes them and the markdown table lists
// them.
std::vector<KeySpec> BuildRegistry();

}  // namespace fedrec::config_internal
