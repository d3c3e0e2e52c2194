#include "core/config_keys.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/thread_pool.h"
#include "fmt/format.h"

namespace fedrec::config_internal {
namespace {

// ---------------------------------------------------------------------------
// Validators: return "" when the value is fine, else what is wrong
// ---------------------------------------------------------------------------

Validator IntAtLeast(int64_t lo) {
  return [lo](const Value& v) {
    return std::get<int64_t>(v) >= lo ? std::string() : fmt::format("must be >= {}", lo);
  };
}

// Sizes the model spec stores as 32-bit fields.
constexpr int64_t kMaxUint32 = 4294967295;

// lo <= x <= hi; `why` says where the upper bound comes from.
Validator IntInRange(int64_t lo, int64_t hi, std::string why) {
  return [lo, hi, why = std::move(why)](const Value& v) {
    const int64_t x = std::get<int64_t>(v);
    if (x < lo) return fmt::format("must be >= {}", lo);
    if (x > hi) return fmt::format("must be <= {} ({})", hi, why);
    return std::string();
  };
}

Validator Positive() {
  return [](const Value& v) {
    const double x = std::get<double>(v);
    return std::isfinite(x) && x > 0 ? std::string() : std::string("must be > 0");
  };
}

Validator NonNegative() {
  return [](const Value& v) {
    const double x = std::get<double>(v);
    return std::isfinite(x) && x >= 0 ? std::string() : std::string("must be >= 0");
  };
}

// lo <= x < hi or lo < x <= hi etc., described by the interval text.
Validator InInterval(double lo, bool lo_open, double hi, bool hi_open) {
  return [=](const Value& v) {
    const double x = std::get<double>(v);
    const bool ok =
        std::isfinite(x) && (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
    if (ok) return std::string();
    return fmt::format("must be in {}{}, {}{}", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
  };
}

Validator OneOf(std::vector<std::string> allowed) {
  return [allowed = std::move(allowed)](const Value& v) {
    const std::string& s = std::get<std::string>(v);
    for (const std::string& a : allowed) {
      if (s == a) return std::string();
    }
    std::string list;
    for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return fmt::format("unknown value '{}' (allowed: {})", s, list);
  };
}

Validator Bits() {
  return [](const Value& v) {
    const int64_t b = std::get<int64_t>(v);
    return b == 32 || b == 64 ? std::string() : std::string("must be 32 or 64");
  };
}

// A comma-separated list of distinct ranking protocols, at least one.
Validator ProtocolList() {
  return [](const Value& v) {
    const std::string& s = std::get<std::string>(v);
    std::vector<std::string> seen;
    size_t start = 0;
    while (true) {
      const size_t comma = s.find(',', start);
      const std::string name = s.substr(start, comma == std::string::npos ? comma : comma - start);
      if (name != "sampled" && name != "full") {
        return fmt::format(
            "'{}': '{}' is not a protocol (a comma-separated list of sampled, full, e.g. "
            "\"sampled,full\" or \"sampled\")",
            s, name);
      }
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
        return fmt::format("'{}': '{}' is listed twice", s, name);
      }
      seen.push_back(name);
      if (comma == std::string::npos) return std::string();
      start = comma + 1;
    }
  };
}

Validator PartitionSpec() {
  return [](const Value& v) {
    const std::string& s = std::get<std::string>(v);
    if (s == "hash" || s == "contiguous") return std::string();
    constexpr std::string_view kPrefix = "dirichlet:";
    if (s.rfind(kPrefix, 0) == 0) {
      const std::string alpha_text = s.substr(kPrefix.size());
      double alpha = 0;
      auto [end, ec] =
          std::from_chars(alpha_text.data(), alpha_text.data() + alpha_text.size(), alpha);
      if (ec == std::errc() && end == alpha_text.data() + alpha_text.size() &&
          !alpha_text.empty() && std::isfinite(alpha) && alpha > 0) {
        return std::string();
      }
      return fmt::format("'{}': dirichlet needs a positive ALPHA (e.g. dirichlet:0.5)", s);
    }
    return fmt::format("unknown value '{}' (allowed: hash, contiguous, dirichlet:ALPHA)", s);
  };
}

// ---------------------------------------------------------------------------
// Accessors: a KeySpec's get/set for one member
// ---------------------------------------------------------------------------

template <typename T>
struct FieldTraits;
template <>
struct FieldTraits<int64_t> {
  static constexpr KeyType kType = KeyType::kInt;
  static Value ToValue(int64_t v) { return v; }
  static int64_t FromValue(const Value& v) { return std::get<int64_t>(v); }
};
template <>
struct FieldTraits<uint64_t> {
  // Stored as a TOML integer (int64); validated to be >= 0.
  static constexpr KeyType kType = KeyType::kInt;
  static Value ToValue(uint64_t v) { return static_cast<int64_t>(v); }
  static uint64_t FromValue(const Value& v) { return static_cast<uint64_t>(std::get<int64_t>(v)); }
};
template <>
struct FieldTraits<double> {
  static constexpr KeyType kType = KeyType::kFloat;
  static Value ToValue(double v) { return v; }
  static double FromValue(const Value& v) { return std::get<double>(v); }
};
template <>
struct FieldTraits<bool> {
  static constexpr KeyType kType = KeyType::kBool;
  static Value ToValue(bool v) { return v; }
  static bool FromValue(const Value& v) { return std::get<bool>(v); }
};
template <>
struct FieldTraits<std::string> {
  static constexpr KeyType kType = KeyType::kString;
  static Value ToValue(const std::string& v) { return v; }
  static std::string FromValue(const Value& v) { return std::get<std::string>(v); }
};

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

// Accessor for a member of a section struct, or of Config itself when
// `Section` is Config (top-level keys).
template <typename Section, typename T>
KeySpec MakeKey(std::string section, std::string key, Section Config::*sec, T Section::*member,
                std::string doc, Validator validate = {}) {
  KeySpec spec;
  spec.section = std::move(section);
  spec.key = std::move(key);
  spec.doc = std::move(doc);
  spec.validate = std::move(validate);
  if constexpr (IsOptional<T>::value) {
    using Inner = typename T::value_type;
    spec.type = FieldTraits<Inner>::kType;
    spec.optional = true;
    spec.get = [sec, member](const Config& c) -> std::optional<Value> {
      const T& field = c.*sec.*member;
      if (!field) return std::nullopt;
      return FieldTraits<Inner>::ToValue(*field);
    };
    spec.set = [sec, member](Config& c, const Value& v) {
      c.*sec.*member = FieldTraits<Inner>::FromValue(v);
    };
  } else {
    spec.type = FieldTraits<T>::kType;
    spec.optional = false;
    spec.get = [sec, member](const Config& c) -> std::optional<Value> {
      return FieldTraits<T>::ToValue(c.*sec.*member);
    };
    spec.set = [sec, member](Config& c, const Value& v) {
      c.*sec.*member = FieldTraits<T>::FromValue(v);
    };
  }
  return spec;
}

template <typename T>
KeySpec MakeTopKey(std::string key, T Config::*member, std::string doc, Validator validate = {}) {
  KeySpec spec;
  spec.key = std::move(key);
  spec.doc = std::move(doc);
  spec.validate = std::move(validate);
  spec.type = FieldTraits<T>::kType;
  spec.optional = false;
  spec.get = [member](const Config& c) -> std::optional<Value> {
    return FieldTraits<T>::ToValue(c.*member);
  };
  spec.set = [member](Config& c, const Value& v) { c.*member = FieldTraits<T>::FromValue(v); };
  return spec;
}

}  // namespace

// ---------------------------------------------------------------------------
// The key registry
// ---------------------------------------------------------------------------

std::vector<KeySpec> BuildRegistry() {
  using C = Config;
  std::vector<KeySpec> r;
  r.push_back(MakeTopKey("seed", &C::seed, "Seed of every counter-based simulation stream.",
                         IntAtLeast(0)));
  // [data]
  r.push_back(MakeKey("data", "path", &C::data, &DataConfig::path,
                      "Interaction file (required by `fedrec train`)."));
  r.push_back(
      MakeKey("data", "format", &C::data, &DataConfig::format,
              "Input format: auto, movielens (u.data), movielens-dat (ratings.dat), "
              "movielens-csv (ratings.csv), sasrec or csv.",
              // Same names as data/reader.h ParseDataFormat (pinned by a data test).
              OneOf({"auto", "movielens", "movielens-dat", "movielens-csv", "sasrec", "csv"})));
  r.push_back(MakeKey("data", "min_count", &C::data, &DataConfig::min_count,
                      "Drop users and items with fewer interactions, one pass over the raw "
                      "counts as in SASRec (0 keeps all).",
                      IntAtLeast(0)));
  r.push_back(MakeKey("data", "kcore", &C::data, &DataConfig::kcore,
                      "Iterated k-core filter on users and items (0 is off).", IntAtLeast(0)));
  r.push_back(MakeKey("data", "dedupe_consecutive", &C::data, &DataConfig::dedupe_consecutive,
                      "Collapse repeated consecutive interactions with the same item."));
  r.push_back(MakeKey("data", "max_len", &C::data, &DataConfig::max_len,
                      "Maximum sequence length seen by sequence models.",
                      IntInRange(1, kMaxUint32, "stored in 32 bits")));
  r.push_back(MakeKey("data", "item_features", &C::data, &DataConfig::item_features,
                      "Item content features keyed by original item id: a float .npy matrix "
                      "(ids in <stem>.ids.npy or .ids.txt beside it) or a .safetensors file "
                      "(one float matrix, one integer id vector). Empty: none."));
  r.push_back(MakeKey("data", "item_features_ids", &C::data, &DataConfig::item_features_ids,
                      "Where the feature rows' item ids come from: auto (the companion list or "
                      "the safetensors id vector), column (the .npy's first column) or the path "
                      "of an id list."));
  // [model]
  r.push_back(MakeKey("model", "type", &C::model, &ModelConfig::type,
                      "Model: sasrec, gru4rec, mf_bpr, mf_rating or pop.",
                      OneOf({"sasrec", "gru4rec", "mf_bpr", "mf_rating", "pop"})));
  r.push_back(MakeKey("model", "dim", &C::model, &ModelConfig::dim, "Embedding and hidden size.",
                      IntInRange(1, kMaxUint32, "stored in 32 bits")));
  r.push_back(MakeKey("model", "blocks", &C::model, &ModelConfig::blocks,
                      "Transformer blocks (sasrec) or GRU layers (gru4rec).", IntAtLeast(1)));
  r.push_back(MakeKey("model", "heads", &C::model, &ModelConfig::heads,
                      "Attention heads (sasrec); must divide model.dim.", IntAtLeast(1)));
  r.push_back(MakeKey("model", "dropout", &C::model, &ModelConfig::dropout,
                      "Dropout rate during training.", InInterval(0, false, 1, true)));
  r.push_back(MakeKey("model", "pre_ln", &C::model, &ModelConfig::pre_ln,
                      "SASRec: Pre-LN blocks instead of the paper's placement."));
  r.push_back(MakeKey("model", "output_embedding", &C::model, &ModelConfig::output_embedding,
                      "sasrec, gru4rec: tied (hidden states scored against the input item "
                      "embedding) or separate (a second item table, gSASRec's default; "
                      "item_repr id only).",
                      OneOf({"tied", "separate"})));
  r.push_back(MakeKey("model", "l2", &C::model, &ModelConfig::l2,
                      "L2 weight on the embedding rows an example uses (0 is off).",
                      InInterval(0, false, 1e9, false)));
  r.push_back(MakeKey("model", "recipe", &C::model, &ModelConfig::recipe,
                      "Defaults of the loss keys: paper (each model's paper loss) or modern "
                      "(sasrec, gru4rec: sampled softmax, 256 shared negatives); keys set "
                      "explicitly win.",
                      OneOf({"paper", "modern"})));
  r.push_back(MakeKey(
      "model", "item_repr", &C::model, &ModelConfig::item_repr,
      "Item representation (sasrec, gru4rec, mf_bpr): id (a learned embedding per item), text "
      "(the item's content features through a learned adapter; no per-item "
      "parameter) or id+text (their sum). text modes need item features.",
      OneOf({"id", "text", "id+text"})));
  r.push_back(MakeKey("model", "adapter", &C::model, &ModelConfig::adapter,
                      "Feature adapter of model.item_repr text / id+text: linear (W, b) or mlp "
                      "(linear, LayerNorm, ReLU, linear).",
                      OneOf({"linear", "mlp"})));
  r.push_back(MakeKey("model", "adapter_hidden", &C::model, &ModelConfig::adapter_hidden,
                      "Hidden width of the mlp adapter (0 = 2 * model.dim).",
                      IntInRange(0, kMaxUint32, "stored in 32 bits")));
  // [train]
  r.push_back(MakeKey("train", "epochs", &C::train, &TrainConfig::epochs,
                      "Central training: passes over the training data.", IntAtLeast(1)));
  r.push_back(MakeKey("train", "batch_size", &C::train, &TrainConfig::batch_size,
                      "Central training: users per mini-batch.", IntAtLeast(1)));
  r.push_back(MakeKey("train", "lr", &C::train, &TrainConfig::lr,
                      "Central training: learning rate.", Positive()));
  r.push_back(MakeKey("train", "optimizer", &C::train, &TrainConfig::optimizer,
                      "Central training optimizer: adam or sgd.", OneOf({"adam", "sgd"})));
  r.push_back(MakeKey("train", "loss", &C::train, &TrainConfig::loss,
                      "Loss: auto (the model's paper loss: sasrec bce, gru4rec bpr, mf_bpr bpr, "
                      "mf_rating mse), bce, bpr, ce (full softmax), sampled_softmax, gbce "
                      "(gSASRec) or mse.",
                      OneOf({"auto", "bce", "bpr", "ce", "sampled_softmax", "gbce", "mse"})));
  r.push_back(MakeKey("train", "negatives", &C::train, &TrainConfig::negatives,
                      "sampled_softmax, gbce: negatives shared by all positions of a sequence "
                      "(sasrec, gru4rec).",
                      IntInRange(1, 1 << 20, "negatives held per sequence")));
  r.push_back(MakeKey("train", "negative_sampler", &C::train, &TrainConfig::negative_sampler,
                      "sampled_softmax, gbce (sasrec, gru4rec; central): uniform, or popularity "
                      "(training counts, logQ-corrected).",
                      OneOf({"uniform", "popularity"})));
  r.push_back(MakeKey("train", "negative_sharing", &C::train, &TrainConfig::negative_sharing,
                      "sampled_softmax, gbce (sasrec, gru4rec): sequence (one set of negatives "
                      "shared by every position: one GEMM) or position (negatives drawn per "
                      "position, as gSASRec: L x negatives gathered rows).",
                      OneOf({"sequence", "position"})));
  r.push_back(MakeKey("train", "normalize_embeddings", &C::train,
                      &TrainConfig::normalize_embeddings,
                      "sasrec and gru4rec ce, sampled_softmax, gbce: cosine logits "
                      "(L2-normalised hidden state and item rows), also in scoring."));
  r.push_back(MakeKey("train", "temperature", &C::train, &TrainConfig::temperature,
                      "sasrec and gru4rec ce, sampled_softmax, gbce: logits divided by this "
                      "(0.05 with normalize_embeddings).",
                      InInterval(1e-4, false, 1e4, false)));
  r.push_back(
      MakeKey("train", "gbce_t", &C::train, &TrainConfig::gbce_t,
              "gbce: calibration t (0: plain BCE, 1: beta = alpha = negatives / (items - 1); "
              "the paper's 0.75).",
              InInterval(0, false, 1, false)));
  r.push_back(MakeKey("train", "patience", &C::train, &TrainConfig::patience,
                      "Stop after this many evaluations (eval.every epochs or rounds) without a "
                      "better validation score (0: off).",
                      IntAtLeast(0)));
  r.push_back(MakeKey("train", "local_epochs", &C::train, &TrainConfig::local_epochs,
                      "Federated: local epochs per client per round.", IntAtLeast(1)));
  r.push_back(MakeKey("train", "local_lr", &C::train, &TrainConfig::local_lr,
                      "Federated: client SGD learning rate.", Positive()));
  // [federation]
  r.push_back(MakeKey("federation", "mode", &C::federation, &FederationConfig::mode,
                      "federated (clients train locally) or central (pooled mini-batches).",
                      OneOf({"federated", "central"})));
  r.push_back(
      MakeKey("federation", "workers", &C::federation, &FederationConfig::workers,
              "Worker threads in a local run (under mpirun: ranks - 1).",
              IntInRange(1, static_cast<int64_t>(kMaxThreads), "the most threads fedrec starts")));
  r.push_back(MakeKey("federation", "rounds", &C::federation, &FederationConfig::rounds,
                      "Federated training rounds.", IntAtLeast(1)));
  r.push_back(
      MakeKey("federation", "sampling_rate", &C::federation, &FederationConfig::sampling_rate,
              "Poisson sampling rate q of clients per round.", InInterval(0, true, 1, false)));
  r.push_back(MakeKey("federation", "clients_per_round", &C::federation,
                      &FederationConfig::clients_per_round,
                      "If > 0, a fixed cohort size instead of Poisson sampling.", IntAtLeast(0)));
  r.push_back(MakeKey("federation", "dropout_rate", &C::federation, &FederationConfig::dropout_rate,
                      "Probability that a sampled client drops out of a round (simulation).",
                      InInterval(0, false, 1, true)));
  r.push_back(MakeKey("federation", "server_optimizer", &C::federation,
                      &FederationConfig::server_optimizer,
                      "Server optimizer: fedavg, fedavgm, fedadam, fedyogi or fedadagrad.",
                      OneOf({"fedavg", "fedavgm", "fedadam", "fedyogi", "fedadagrad"})));
  r.push_back(MakeKey("federation", "server_lr", &C::federation, &FederationConfig::server_lr,
                      "Server optimizer learning rate.", Positive()));
  r.push_back(MakeKey("federation", "server_momentum", &C::federation,
                      &FederationConfig::server_momentum, "fedavgm: server momentum beta.",
                      InInterval(0, false, 1, true)));
  r.push_back(MakeKey("federation", "server_beta1", &C::federation, &FederationConfig::server_beta1,
                      "fedadam, fedyogi: first-moment decay beta1.",
                      InInterval(0, false, 1, true)));
  r.push_back(MakeKey("federation", "server_beta2", &C::federation, &FederationConfig::server_beta2,
                      "fedadam, fedyogi: second-moment decay beta2.",
                      InInterval(0, false, 1, true)));
  r.push_back(MakeKey("federation", "server_tau", &C::federation, &FederationConfig::server_tau,
                      "fedadam, fedyogi, fedadagrad: adaptivity tau (Reddi et al. 2021).",
                      Positive()));
  r.push_back(MakeKey("federation", "partition", &C::federation, &FederationConfig::partition,
                      "Users to workers: hash, contiguous or dirichlet:ALPHA.", PartitionSpec()));
  r.push_back(MakeKey("federation", "round_timeout_s", &C::federation,
                      &FederationConfig::round_timeout_s,
                      "Seconds a rank waits for the other ranks in any one collective of the "
                      "round protocol before the job ends, naming the rank and round that "
                      "stalled (0: wait forever; workers wait max(5 s, 10%) longer, so that "
                      "rank 0 reports).",
                      InInterval(0, false, 1e9, false)));
  // [aggregation]
  r.push_back(MakeKey("aggregation", "clip_norm", &C::aggregation, &AggregationConfig::clip_norm,
                      "L2 clip norm C of each client update.", Positive()));
  r.push_back(MakeKey("aggregation", "bits", &C::aggregation, &AggregationConfig::bits,
                      "Fixed-point ring Z_(2^bits) of the aggregation: 32 or 64.", Bits()));
  r.push_back(MakeKey("aggregation", "weighting", &C::aggregation, &AggregationConfig::weighting,
                      "Client weight in the average: uniform, or examples (training positions, "
                      "capped at data.max_len).",
                      OneOf({"uniform", "examples"})));

  // [privacy]
  r.push_back(MakeKey("privacy", "mode", &C::privacy, &PrivacyConfig::mode,
                      "Differential privacy: none, central or distributed.",
                      OneOf({"none", "central", "distributed"})));
  r.push_back(MakeKey("privacy", "noise_multiplier", &C::privacy, &PrivacyConfig::noise_multiplier,
                      "Noise std / clip norm; 0 calibrates it to privacy.target_epsilon.",
                      NonNegative()));
  r.push_back(MakeKey("privacy", "target_epsilon", &C::privacy, &PrivacyConfig::target_epsilon,
                      "Privacy budget; training stops before a round would exceed it (unset: "
                      "no budget).",
                      Positive()));
  r.push_back(MakeKey("privacy", "delta", &C::privacy, &PrivacyConfig::delta,
                      "Delta of (epsilon, delta)-DP.", InInterval(0, true, 1, true)));
  r.push_back(MakeKey("privacy", "accountant", &C::privacy, &PrivacyConfig::accountant,
                      "Privacy accountant: rdp or pld.", OneOf({"rdp", "pld"})));
  r.push_back(MakeKey("privacy", "noise_seed", &C::privacy, &PrivacyConfig::noise_seed,
                      "Pins the DP noise for a reproducible experiment (NOT private; unset: "
                      "OS CSPRNG).",
                      IntAtLeast(0)));
  r.push_back(MakeKey("privacy", "adaptive_clip", &C::privacy, &PrivacyConfig::adaptive_clip,
                      "Adapt the clip norm to a quantile of update norms (no DP or central DP; "
                      "aggregation.clip_norm is the initial clip)."));
  r.push_back(MakeKey("privacy", "clip_quantile", &C::privacy, &PrivacyConfig::clip_quantile,
                      "Adaptive clipping: the quantile of update norms the clip tracks.",
                      InInterval(0, false, 1, false)));
  r.push_back(MakeKey("privacy", "clip_lr", &C::privacy, &PrivacyConfig::clip_lr,
                      "Adaptive clipping: geometric learning rate of the clip norm.", Positive()));
  r.push_back(MakeKey("privacy", "clip_count_stddev", &C::privacy,
                      &PrivacyConfig::clip_count_stddev,
                      "Adaptive clipping: noise std of the unclipped count (0: expected cohort "
                      "/ 20).",
                      NonNegative()));
  r.push_back(MakeKey("privacy", "min_clients", &C::privacy, &PrivacyConfig::min_clients,
                      "Distributed DP: clients whose noise a round must hold to be released "
                      "(0: the cohort size reached with probability 1 - 1e-9).",
                      IntAtLeast(0)));
  // [secagg]
  r.push_back(MakeKey("secagg", "enabled", &C::secagg, &SecaggConfig::enabled,
                      "Secure aggregation on or off (the result is bitwise the same)."));
  r.push_back(MakeKey("secagg", "scope", &C::secagg, &SecaggConfig::scope,
                      "Participants: worker (one per worker) or client (one per sampled client).",
                      OneOf({"worker", "client"})));
  r.push_back(MakeKey("secagg", "graph", &C::secagg, &SecaggConfig::graph,
                      "Masking graph: complete or harary.", OneOf({"complete", "harary"})));
  r.push_back(MakeKey("secagg", "degree", &C::secagg, &SecaggConfig::degree,
                      "Harary graph: neighbours per participant (0 chooses automatically).",
                      IntAtLeast(0)));
  r.push_back(MakeKey("secagg", "threshold", &C::secagg, &SecaggConfig::threshold,
                      "Fraction of a participant's neighbours needed to unmask it.",
                      InInterval(0, true, 1, false)));
  r.push_back(MakeKey("secagg", "authenticate", &C::secagg, &SecaggConfig::authenticate,
                      "Sign the key-agreement messages."));
  // [eval]
  r.push_back(MakeKey("eval", "every", &C::eval, &EvalConfig::every,
                      "Evaluate every N rounds or epochs (0: only at the end).", IntAtLeast(0)));
  r.push_back(MakeKey("eval", "protocol", &C::eval, &EvalConfig::protocol,
                      "Ranking protocol: sampled (100 negatives) or full.",
                      OneOf({"sampled", "full"})));
  r.push_back(MakeKey("eval", "negatives", &C::eval, &EvalConfig::negatives,
                      "Sampled protocol: negatives per user.", IntAtLeast(1)));
  r.push_back(MakeKey("eval", "k", &C::eval, &EvalConfig::k, "Cutoff K of HR@K and NDCG@K.",
                      IntAtLeast(1)));
  r.push_back(MakeKey("eval", "final_protocols", &C::eval, &EvalConfig::final_protocols,
                      "Protocols of the final test evaluation, comma-separated: sampled,full, "
                      "or one of them (a very large run can skip full ranking).",
                      ProtocolList()));
  r.push_back(MakeKey("eval", "cold_items", &C::eval, &EvalConfig::cold_items,
                      "Cold-start evaluation: fraction of items withheld from training (kept "
                      "only as test targets) and reported apart; 0: off.",
                      InInterval(0, false, 1, true)));
  // [checkpoint]
  r.push_back(MakeKey("checkpoint", "every", &C::checkpoint, &CheckpointConfig::every,
                      "Checkpoint every N rounds or epochs (0: only the final one).",
                      IntAtLeast(0)));
  r.push_back(MakeKey("checkpoint", "keep", &C::checkpoint, &CheckpointConfig::keep,
                      "Checkpoints kept on disk (0: all).", IntAtLeast(0)));
  // [backend]
  r.push_back(MakeKey("backend", "compute", &C::backend, &BackendConfig::compute,
                      "Compute backend: cpu, or cuda (SASRec's, GRU4Rec's and MF-BPR's training "
                      "steps and evaluation on the GPU).",
                      OneOf({"cpu", "cuda"})));
  r.push_back(MakeKey("backend", "comm", &C::backend, &BackendConfig::comm,
                      "Collective backend: auto, local, mpi or nccl (sums on one GPU per rank).",
                      OneOf({"auto", "local", "mpi", "nccl"})));
  r.push_back(
      MakeKey("backend", "threads", &C::backend, &BackendConfig::threads,
              "Threads per process (0: all cores).",
              IntInRange(0, static_cast<int64_t>(kMaxThreads), "the most threads fedrec starts")));
  r.push_back(MakeKey("backend", "tf32", &C::backend, &BackendConfig::tf32,
                      "backend.compute = cuda: matrix products in TF32 on tensor cores (faster; "
                      "inputs rounded to 10 mantissa bits) instead of FP32."));
  return r;
}

}  // namespace fedrec::config_internal
