// The run configuration: one TOML file (DESIGN.md, "Config keys") plus
// `--set section.key=value` overrides, resolved into a plain struct.
//
// Every key has a default (the member initialisers below; ConfigKeysMarkdown()
// renders the table for the README). Keys are described once, in a table-driven
// registry in config_keys.cc (name, type, member, validator, doc), which drives
// parsing, overrides, validation, ToToml() and the markdown table.
//
// Errors (all absl::InvalidArgumentError, one line, "<where>: <what>"):
//   config.toml:7: unknown key 'train.lrr'
//   config.toml:2: unknown section 'trian'
//   config.toml:3: train.lr: expected a number, got string
//   config.toml:3: train.lr: must be > 0
//   config.toml:5: model.type: unknown value 'bert' (allowed: sasrec, gru4rec, ...)
//   config.toml:4: <TOML syntax error>
//   --set train.lr=abc: expected a number
//   --set train.lrr=1: unknown key 'train.lrr'
//   config.toml: model.dim: must be a multiple of model.heads (3)   (cross-key)
// A missing file is NotFound ("path: no such file").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace fedrec {

struct DataConfig {
  std::string path;                 // input file or directory; required by `train`
  std::string format = "auto";      // auto|movielens|sasrec|csv
  int64_t min_count = 0;            // drop items with fewer interactions (0 = keep all)
  int64_t kcore = 0;                // iterated k-core filter on users and items (0 = off)
  bool dedupe_consecutive = false;  // collapse repeated consecutive items per user
  int64_t max_len = 200;            // sequence length (sequence models); >= 1
  // Item content features (.npy or .safetensors) keyed by original item id;
  // empty = none. Read by models with model.item_repr = text | id+text.
  std::string item_features;
  std::string item_features_ids = "auto";  // auto|column|PATH (data/item_features.h)
  bool operator==(const DataConfig&) const = default;
};

struct ModelConfig {
  std::string type = "sasrec";            // sasrec|gru4rec|mf_bpr|mf_rating|pop
  int64_t dim = 50;                       // embedding / hidden size
  int64_t blocks = 2;                     // transformer blocks (sasrec) or GRU layers (gru4rec)
  int64_t heads = 1;                      // attention heads (sasrec); dim % heads == 0
  double dropout = 0.2;                   // dropout rate in [0, 1)
  bool pre_ln = false;                    // sasrec: Pre-LN blocks
  std::string output_embedding = "tied";  // tied|separate (sasrec, gru4rec): scored item rows
  double l2 = 0.0;                        // L2 on the embedding rows an example uses
  std::string recipe = "paper";           // paper|modern: defaults of the train.* loss keys
  std::string item_repr = "id";    // id|text|id+text: item embedding, adapted features, or both
  std::string adapter = "linear";  // linear|mlp: the feature adapter (text modes)
  int64_t adapter_hidden = 0;      // mlp hidden width; 0 = 2 * model.dim
  bool operator==(const ModelConfig&) const = default;
};

struct TrainConfig {
  int64_t epochs = 20;                        // central: passes over the training data
  int64_t batch_size = 128;                   // central: users per mini-batch
  double lr = 1e-3;                           // central: learning rate
  std::string optimizer = "adam";             // adam|sgd (central)
  std::string loss = "auto";                  // auto|bce|bpr|ce|sampled_softmax|gbce|mse
  int64_t negatives = 100;                    // sampled_softmax, gbce: negatives per sequence
  std::string negative_sampler = "uniform";   // uniform|popularity
  std::string negative_sharing = "sequence";  // sequence|position
  bool normalize_embeddings = false;          // cosine logits (ce, sampled_softmax, gbce)
  double temperature = 1.0;                   // logits / temperature
  double gbce_t = 0.75;                       // gbce calibration t in [0, 1]
  int64_t patience = 0;                       // evaluations without improvement (0: off)
  int64_t local_epochs = 1;                   // federated: local epochs per client per round
  double local_lr = 0.05;                     // federated: client SGD learning rate
  bool operator==(const TrainConfig&) const = default;
};

struct FederationConfig {
  std::string mode = "federated";           // federated|central
  int64_t workers = 2;                      // local simulation worker threads (mpirun: ranks - 1)
  int64_t rounds = 100;                     // training rounds
  double sampling_rate = 0.01;              // Poisson sampling rate q per round, in (0, 1]
  int64_t clients_per_round = 0;            // > 0: fixed cohort size instead of Poisson sampling
  double dropout_rate = 0.0;                // simulated client dropout probability in [0, 1)
  std::string server_optimizer = "fedavg";  // fedavg|fedavgm|fedadam|fedyogi|fedadagrad
  double server_lr = 1.0;                   // server optimizer learning rate
  double server_momentum = 0.9;             // fedavgm: momentum beta
  double server_beta1 = 0.9;                // fedadam/fedyogi: first-moment decay
  double server_beta2 = 0.99;               // fedadam/fedyogi: second-moment decay
  double server_tau = 1e-3;                 // fedadam/fedyogi/fedadagrad: adaptivity tau
  std::string partition = "hash";           // hash|contiguous|dirichlet:ALPHA (users -> workers)
  double round_timeout_s = 1800;            // longest wait for the other ranks (0 = forever)
  bool operator==(const FederationConfig&) const = default;
};

struct AggregationConfig {
  double clip_norm = 1.0;             // L2 clip norm C of a client update
  int64_t bits = 32;                  // ring Z_(2^bits) for fixed-point aggregation: 32 or 64
  std::string weighting = "uniform";  // uniform|examples: weight of a client in the average

  bool operator==(const AggregationConfig&) const = default;
};

struct PrivacyConfig {
  std::string mode = "none";      // none|central|distributed
  double noise_multiplier = 0.0;  // sigma (noise std / clip norm); 0 = calibrate to target_epsilon
  std::optional<double> target_epsilon;  // budget: training stops before exceeding it
  double delta = 1e-5;                   // delta of (epsilon, delta)-DP, in (0, 1)
  std::string accountant = "rdp";        // rdp|pld
  std::optional<uint64_t> noise_seed;    // pins the DP noise (NOT private; stated in the log)
  bool adaptive_clip = false;            // adaptive clipping (quantile-based clip norm)
  double clip_quantile = 0.5;            // adaptive clipping: target quantile of update norms
  double clip_lr = 0.2;                  // adaptive clipping: geometric learning rate eta_C
  double clip_count_stddev = 0.0;        // adaptive clipping: sigma_b; 0 = expected cohort / 20
  int64_t min_clients = 0;               // distributed: noise shares a release needs; 0 = auto
  bool operator==(const PrivacyConfig&) const = default;
};

struct SecaggConfig {
  bool enabled = false;
  std::string scope = "worker";    // worker|client: who is a secure-aggregation participant
  std::string graph = "complete";  // complete|harary: masking graph
  int64_t degree = 0;              // harary: neighbours per participant (0 = auto)
  double threshold = 0.5;          // fraction of neighbours needed to unmask, in (0, 1]
  bool authenticate = false;       // sign key-agreement messages
  bool operator==(const SecaggConfig&) const = default;
};

struct EvalConfig {
  int64_t every = 10;                // evaluate every N rounds/epochs (0 = only at the end)
  std::string protocol = "sampled";  // sampled|full
  int64_t negatives = 100;           // sampled protocol: negatives per user
  int64_t k = 10;                    // cutoff for HR@K and NDCG@K
  // Protocols of the final test evaluation, comma-separated: a very large
  // run can leave out the (much dearer) full ranking.
  std::string final_protocols = "sampled,full";
  // Cold-start evaluation: the fraction of items withheld from training
  // entirely (data/cold_items.h), in [0, 1); 0 = off.
  double cold_items = 0.0;
  bool operator==(const EvalConfig&) const = default;
};

struct CheckpointConfig {
  int64_t every = 10;  // checkpoint every N rounds/epochs (0 = only the final one)
  int64_t keep = 3;    // checkpoints kept (0 = all)
  bool operator==(const CheckpointConfig&) const = default;
};

struct BackendConfig {
  std::string compute = "cpu";  // cpu|cuda
  std::string comm = "auto";    // auto|local|mpi|nccl
  int64_t threads = 0;          // threads per process (0 = all cores)
  bool tf32 = false;            // cuda: TF32 tensor-core products instead of FP32
  bool operator==(const BackendConfig&) const = default;
};

struct Config {
  uint64_t seed = 42;  // seed of all counter-based simulation streams
  DataConfig data;
  ModelConfig model;
  TrainConfig train;
  FederationConfig federation;
  AggregationConfig aggregation;
  PrivacyConfig privacy;
  SecaggConfig secagg;
  EvalConfig eval;
  CheckpointConfig checkpoint;
  BackendConfig backend;
  bool operator==(const Config&) const = default;
};

// Loads `path` (empty: defaults only), then applies `overrides` in order
// (each "section.key=value", or "seed=value"), then validates the result.
absl::StatusOr<Config> LoadConfig(const std::string& path,
                                  const std::vector<std::string>& overrides = {});

// As LoadConfig, from TOML text; `source_name` prefixes error messages.
absl::StatusOr<Config> ParseConfig(const std::string& toml_text, const std::string& source_name,
                                   const std::vector<std::string>& overrides = {});

// Cross-key checks (also run by LoadConfig/ParseConfig); `where` prefixes
// errors.
absl::Status ValidateConfig(const Config& config, const std::string& where = "config");

// The fully resolved configuration as TOML, every key with its doc comment.
// ParseConfig(ToToml(c), ...) == c for every valid c.
std::string ToToml(const Config& config);

// A markdown table of every key: | key | type | default | description |.
std::string ConfigKeysMarkdown();

// The dotted names of every key, in registry order ("seed", "data.path", ...).
std::vector<std::string> ConfigKeyNames();

// One key whose value differs between two configurations, with both values
// as TOML writes them ("unset" for an unset optional key).
struct ConfigDifference {
  std::string key;  // dotted name
  std::string before, after;
};
// The keys whose values differ, in registry order.
std::vector<ConfigDifference> DiffConfigs(const Config& before, const Config& after);

// "key = value" per line for every key in registry order, skipping the keys
// in `skip`: a canonical text that depends on the values only (not on doc
// comments), for digests.
std::string CanonicalConfigText(const Config& config, const std::vector<std::string>& skip = {});

}  // namespace fedrec
