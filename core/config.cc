#include "core/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <span>
#include <sstream>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "core/atomic_file.h"
#include "core/config_keys.h"
#include "core/utf8.h"
#include "fmt/format.h"

namespace fedrec {
namespace {

// ---------------------------------------------------------------------------
// Values and key types
// ---------------------------------------------------------------------------

using config_internal::BuildRegistry;
using config_internal::KeySpec;
using config_internal::KeyType;
using config_internal::Value;

const char* TypeName(KeyType t) {
  switch (t) {
    case KeyType::kInt:
      return "integer";
    case KeyType::kFloat:
      return "number";
    case KeyType::kBool:
      return "boolean";
    case KeyType::kString:
      return "string";
  }
  return "?";
}

const char* ArticleFor(KeyType t) { return t == KeyType::kInt ? "an" : "a"; }

const char* TomlTypeName(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    default:
      return "nothing";
  }
}

// Shortest text that parses back to exactly `v` as a TOML float.
std::string FormatFloat(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, end);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  // TOML wants a digit before an exponent's mantissa dot, which to_chars
  // already produces ("1e-05" is valid TOML).
  return s;
}

std::string QuoteTomlString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04X}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string FormatValue(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          return std::to_string(x);
        } else if constexpr (std::is_same_v<T, double>) {
          return FormatFloat(x);
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else {
          return QuoteTomlString(x);
        }
      },
      v);
}

// ---------------------------------------------------------------------------
// The key registry (core/config_keys.cc), built once
// ---------------------------------------------------------------------------

const std::vector<KeySpec>& Registry() {
  static const std::vector<KeySpec>* registry = new std::vector<KeySpec>(BuildRegistry());
  return *registry;
}

const KeySpec* FindKey(std::string_view section, std::string_view key) {
  for (const KeySpec& spec : Registry()) {
    if (spec.section == section && spec.key == key) return &spec;
  }
  return nullptr;
}

bool IsSection(std::string_view name) {
  if (name.empty()) return false;
  for (const KeySpec& spec : Registry()) {
    if (spec.section == name) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

std::string Where(const std::string& source, const toml::source_region& region) {
  if (region.begin.line == 0) return source;
  return fmt::format("{}:{}", source, region.begin.line);
}

// Converts a TOML node to the key's type; on failure returns the error text
// ("expected a number, got string").
absl::StatusOr<Value> ConvertNode(const toml::node& node, KeyType type) {
  auto mismatch = [&]() {
    return absl::InvalidArgumentError(fmt::format("expected {} {}, got {}", ArticleFor(type),
                                                  TypeName(type), TomlTypeName(node.type())));
  };
  switch (type) {
    case KeyType::kInt:
      if (auto v = node.as_integer()) return Value(v->get());
      return mismatch();
    case KeyType::kFloat:
      if (auto v = node.as_floating_point()) return Value(v->get());
      if (auto v = node.as_integer()) return Value(static_cast<double>(v->get()));
      return mismatch();
    case KeyType::kBool:
      if (auto v = node.as_boolean()) return Value(v->get());
      return mismatch();
    case KeyType::kString:
      if (auto v = node.as_string()) return Value(v->get());
      return mismatch();
  }
  return mismatch();
}

// Sets one key, prefixing errors with `where` and (if `name_key`) the key's
// dotted name.
absl::Status SetKey(Config& config, const KeySpec& spec, const Value& value,
                    const std::string& where, bool name_key) {
  if (spec.validate) {
    std::string problem = spec.validate(value);
    if (!problem.empty()) {
      return InvalidInput(where, name_key ? spec.Name() + ": " + problem : problem);
    }
  }
  spec.set(config, value);
  return absl::OkStatus();
}

absl::Status ApplyNode(Config& config, const KeySpec& spec, const toml::node& node,
                       const std::string& source) {
  const std::string where = Where(source, node.source());
  absl::StatusOr<Value> value = ConvertNode(node, spec.type);
  if (!value.ok()) {
    return InvalidInput(where, spec.Name() + ": " + std::string(value.status().message()));
  }
  return SetKey(config, spec, *value, where, /*name_key=*/true);
}

absl::Status ApplyTable(Config& config, const toml::table& root, const std::string& source) {
  for (auto&& [k, node] : root) {
    const std::string name(k.str());
    const std::string where = Where(source, k.source());
    if (IsSection(name)) {
      const toml::table* section = node.as_table();
      if (section == nullptr) {
        return InvalidInput(where, fmt::format("'{}' must be a table ([{}]), got {}", name, name,
                                               TomlTypeName(node.type())));
      }
      for (auto&& [sk, snode] : *section) {
        const std::string key(sk.str());
        const KeySpec* spec = FindKey(name, key);
        if (spec == nullptr) {
          return InvalidInput(Where(source, sk.source()),
                              fmt::format("unknown key '{}.{}'", name, key));
        }
        FEDREC_RETURN_IF_ERROR(ApplyNode(config, *spec, snode, source));
      }
      continue;
    }
    const KeySpec* spec = FindKey("", name);
    if (spec != nullptr) {
      FEDREC_RETURN_IF_ERROR(ApplyNode(config, *spec, node, source));
      continue;
    }
    if (node.is_table()) return InvalidInput(where, fmt::format("unknown section '{}'", name));
    return InvalidInput(where, fmt::format("unknown key '{}'", name));
  }
  return absl::OkStatus();
}

absl::StatusOr<toml::table> ParseToml(const std::string& text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return InvalidInput(Where(source, e.source()), std::string(e.description()));
  }
}

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

absl::Status ApplyOverride(Config& config, const std::string& text) {
  const std::string where = "--set " + text;
  const size_t eq = text.find('=');
  if (eq == std::string::npos) return InvalidInput(where, "expected section.key=value");
  const std::string name = Trim(std::string_view(text).substr(0, eq));
  const std::string raw = Trim(std::string_view(text).substr(eq + 1));
  const size_t dot = name.find('.');
  const std::string section = dot == std::string::npos ? "" : name.substr(0, dot);
  const std::string key = dot == std::string::npos ? name : name.substr(dot + 1);
  const KeySpec* spec = FindKey(section, key);
  if (spec == nullptr) {
    if (!section.empty() && !IsSection(section)) {
      return InvalidInput(where, fmt::format("unknown section '{}'", section));
    }
    return InvalidInput(where, fmt::format("unknown key '{}'", name));
  }
  // Infer the value's TOML type by parsing "v = <raw>"; strings may be given
  // bare (--set model.type=sasrec) or quoted.
  std::optional<Value> value;
  std::string toml_error;
  if (raw.find('\n') == std::string::npos) {
    try {
      toml::table t = toml::parse("v = " + raw);
      if (t.size() == 1 && t.contains("v")) {
        absl::StatusOr<Value> converted = ConvertNode(*t.get("v"), spec->type);
        if (converted.ok()) {
          value = *converted;
        } else {
          toml_error = std::string(converted.status().message());
        }
      }
    } catch (const toml::parse_error&) {
    }
  }
  if (!value && spec->type == KeyType::kString) {
    const bool quoted = !raw.empty() && (raw.front() == '"' || raw.front() == '\'');
    if (quoted) return InvalidInput(where, "malformed quoted string");
    // A TOML file can only hold UTF-8: anything else would be written into
    // the run's config.toml and make it unreadable (no --resume, no eval).
    if (!IsValidUtf8(raw)) return InvalidInput(where, "the value is not valid UTF-8");
    value = Value(raw);
  }
  if (!value) {
    return InvalidInput(
        where, fmt::format("expected {} {}", ArticleFor(spec->type), TypeName(spec->type)));
  }
  return SetKey(config, *spec, *value, where, /*name_key=*/false);
}

// model.recipe = "modern" (sasrec, gru4rec): the defaults of the loss keys
// become the full-ranking-era recipe that measured best on ML-100K for both
// sequence models (README "Losses"): sampled softmax over 256 shared
// negatives. Cosine logits at temperature 0.05 measured the same within one
// seed's noise, so the recipe keeps plain dot products (also what scoring
// uses without it).
void ApplyModernRecipe(Config& config) {
  config.train.loss = "sampled_softmax";
  config.train.negatives = 256;
}

absl::StatusOr<Config> Resolve(const std::optional<toml::table>& root, const std::string& source,
                               const std::vector<std::string>& overrides) {
  Config config;
  if (root) FEDREC_RETURN_IF_ERROR(ApplyTable(config, *root, source));
  for (const std::string& o : overrides) FEDREC_RETURN_IF_ERROR(ApplyOverride(config, o));
  if (config.model.recipe == "modern") {
    // The recipe replaces the defaults, then the file and the overrides are
    // applied again on top: every key set explicitly keeps its value.
    const std::string& type = config.model.type;
    if (type != "sasrec" && type != "gru4rec") {
      return InvalidInput(
          source.empty() ? "config" : source,
          "model.recipe: 'modern' is defined for sasrec and gru4rec, not '" + type + "'");
    }
    Config base;
    ApplyModernRecipe(base);
    config = base;
    if (root) FEDREC_RETURN_IF_ERROR(ApplyTable(config, *root, source));
    for (const std::string& o : overrides) FEDREC_RETURN_IF_ERROR(ApplyOverride(config, o));
  }
  FEDREC_RETURN_IF_ERROR(ValidateConfig(config, source.empty() ? "config" : source));
  return config;
}

}  // namespace

absl::Status ValidateConfig(const Config& c, const std::string& where) {
  // Per-key checks first (a Config built in code may bypass the parser).
  for (const KeySpec& spec : Registry()) {
    std::optional<Value> v = spec.get(c);
    if (!v || !spec.validate) continue;
    std::string problem = spec.validate(*v);
    if (!problem.empty()) return InvalidInput(where, spec.Name() + ": " + problem);
  }
  if (c.model.dim % c.model.heads != 0) {
    return InvalidInput(
        where, fmt::format("model.dim: must be a multiple of model.heads ({})", c.model.heads));
  }
  if (c.privacy.mode != "none" && c.privacy.noise_multiplier == 0 && !c.privacy.target_epsilon) {
    return InvalidInput(where, "privacy: mode '" + c.privacy.mode +
                                   "' needs privacy.noise_multiplier > 0 or "
                                   "privacy.target_epsilon");
  }
  if (c.backend.tf32 && c.backend.compute != "cuda") {
    return InvalidInput(where,
                        "backend.tf32: true needs backend.compute = \"cuda\" (TF32 is a GPU "
                        "tensor-core format; the CPU computes in FP32)");
  }
  if (c.privacy.mode == "distributed" && !c.secagg.enabled) {
    return InvalidInput(where,
                        "privacy.mode: 'distributed' needs secagg.enabled = true (the noise "
                        "shares are only private under secure aggregation)");
  }
  if (c.privacy.mode == "distributed") {
    // The distributed discrete Gaussian's accounting (privacy/ddg.h) is for
    // Poisson sampling under the RDP accountant, in a ring the DDG supports.
    if (c.aggregation.bits != 32) {
      return InvalidInput(where,
                          "aggregation.bits: distributed DP sums in Z_2^32 (the discrete "
                          "Gaussian's ring is at most 2^62); set aggregation.bits = 32");
    }
    if (c.federation.clients_per_round > 0) {
      return InvalidInput(where,
                          "federation.clients_per_round: distributed DP is accounted for Poisson "
                          "sampling only; set federation.sampling_rate and clients_per_round = 0");
    }
    if (c.privacy.accountant != "rdp") {
      return InvalidInput(where,
                          "privacy.accountant: distributed DP is accounted by the RDP accountant "
                          "(KLS21's bound is an RDP curve); set privacy.accountant = \"rdp\"");
    }
    if (c.privacy.adaptive_clip) {
      return InvalidInput(where,
                          "privacy.adaptive_clip: central mode only (the clipped count would need "
                          "its own distributed noise)");
    }
  }
  if (c.secagg.graph == "harary" && c.secagg.degree == 1) {
    return InvalidInput(where, "secagg.degree: must be 0 (auto) or >= 2 for a harary graph");
  }
  return absl::OkStatus();
}

absl::StatusOr<Config> ParseConfig(const std::string& toml_text, const std::string& source_name,
                                   const std::vector<std::string>& overrides) {
  FEDREC_ASSIGN_OR_RETURN(toml::table root, ParseToml(toml_text, source_name));
  return Resolve(std::move(root), source_name, overrides);
}

absl::StatusOr<Config> LoadConfig(const std::string& path,
                                  const std::vector<std::string>& overrides) {
  if (path.empty()) return Resolve(std::nullopt, "", overrides);
  FEDREC_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseConfig(text, path, overrides);
}

std::string ToToml(const Config& config) {
  std::string out = "# fedrec run configuration (fully resolved)\n";
  std::string current_section;
  bool first = true;
  for (const KeySpec& spec : Registry()) {
    if (spec.section != current_section || first) {
      if (!spec.section.empty()) out += "\n[" + spec.section + "]\n";
      current_section = spec.section;
      first = false;
    }
    out += "# " + spec.doc + "\n";
    std::optional<Value> v = spec.get(config);
    if (v) {
      out += spec.key + " = " + FormatValue(*v) + "\n";
    } else {
      out += "# " + spec.key + " = (unset)\n";
    }
  }
  return out;
}

std::string ConfigKeysMarkdown() {
  const Config defaults;
  std::string out =
      "| key | type | default | description |\n"
      "|---|---|---|---|\n";
  for (const KeySpec& spec : Registry()) {
    std::optional<Value> v = spec.get(defaults);
    std::string def = v ? FormatValue(*v) : "unset";
    if (def == "\"\"") def = "\"\" (none)";
    std::string doc = spec.doc;
    // Escape pipes for the markdown table.
    std::string escaped;
    for (char ch : doc) escaped += ch == '|' ? std::string("\\|") : std::string(1, ch);
    out +=
        fmt::format("| `{}` | {} | `{}` | {} |\n", spec.Name(), TypeName(spec.type), def, escaped);
  }
  return out;
}

std::vector<ConfigDifference> DiffConfigs(const Config& before, const Config& after) {
  std::vector<ConfigDifference> out;
  for (const KeySpec& spec : Registry()) {
    const std::optional<Value> a = spec.get(before), b = spec.get(after);
    if (a == b) continue;
    out.push_back({.key = spec.Name(),
                   .before = a ? FormatValue(*a) : "unset",
                   .after = b ? FormatValue(*b) : "unset"});
  }
  return out;
}

std::string CanonicalConfigText(const Config& config, const std::vector<std::string>& skip) {
  std::string out;
  for (const KeySpec& spec : Registry()) {
    const std::string name = spec.Name();
    if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
    const std::optional<Value> v = spec.get(config);
    out += name + " = " + (v ? FormatValue(*v) : std::string("unset")) + "\n";
  }
  return out;
}

std::vector<std::string> ConfigKeyNames() {
  std::vector<std::string> names;
  for (const KeySpec& spec : Registry()) names.push_back(spec.Name());
  return names;
}

}  // namespace fedrec
