// fedrec data stats | data synth
#include <chrono>
#include <filesystem>

#include "apps/cli_common.h"
#include "apps/data_flags.h"
#include "core/output_path.h"
#include "data/stats.h"
#include "data/synth.h"
#include "data/synth_content.h"

namespace fedrec::cli {

void DataFlags::AddTo(CLI::App* cmd, const std::string& input_flag) {
  cmd->add_option(input_flag, input, "interaction file")->required();
  cmd->add_option("--format", format, "auto|movielens|movielens-dat|movielens-csv|sasrec|csv")
      ->capture_default_str();
  cmd->add_option("--min-count", min_count,
                  "drop users and items with fewer interactions (one pass, as SASRec)");
  cmd->add_option("--kcore", kcore, "iterative k-core filter");
  cmd->add_flag("--dedupe", dedupe, "remove consecutive repeats of an item");
  cmd->add_flag("--no-cache", no_cache, "do not read or write the binary dataset cache");
  cmd->add_option("--cache-dir", cache_dir,
                  "cache directory (default $FEDREC_CACHE_DIR, ~/.cache/fedrec)");
  cmd->add_option("--csv-columns", csv_columns,
                  "--format csv: 0-based columns user,item[,rating[,timestamp]] ('-' = absent)")
      ->capture_default_str();
  cmd->add_option("--csv-delimiter", csv_delimiter, "--format csv: one character, or 'tab'/'space'")
      ->capture_default_str();
  cmd->add_flag("--csv-no-header", csv_no_header, "--format csv: the first line is data");
}

absl::StatusOr<LoadOptions> DataFlags::ToLoadOptions() const {
  LoadOptions options;
  FEDREC_ASSIGN_OR_RETURN(options.format, ParseDataFormat(format));
  options.min_count = min_count;
  options.kcore = kcore;
  options.dedupe_consecutive = dedupe;
  options.use_cache = !no_cache;
  options.cache_dir = cache_dir;
  FEDREC_ASSIGN_OR_RETURN(options.csv, ParseCsvColumns(csv_columns, csv_delimiter, !csv_no_header));
  return options;
}

namespace {

struct StatsArgs {
  DataFlags data;
};

absl::Status RunStats(const StatsArgs& args) {
  FEDREC_ASSIGN_OR_RETURN(LoadOptions options, args.data.ToLoadOptions());
  FEDREC_ASSIGN_OR_RETURN(Dataset dataset, LoadDataset(args.data.input, options));
  nlohmann::json j = ToJson(ComputeStats(dataset));
  j["input"] = args.data.input;
  PrintJson(j);
  return absl::OkStatus();
}

struct SynthArgs {
  SynthOptions options;
  std::string out;
  SynthContentOptions content;
  std::string item_features;  // .npy (+ <stem>.ids.npy); empty: none
  std::string item_text;      // .tsv; empty: none
};

absl::Status RunSynth(const SynthArgs& args) {
  FEDREC_RETURN_IF_ERROR(CheckOutputFile(args.out, "synth: --out"));
  FEDREC_RETURN_IF_ERROR(ValidateSynthOptions(args.options));
  FEDREC_RETURN_IF_ERROR(ValidateSynthContentOptions(args.content));
  if (!args.item_features.empty()) {
    FEDREC_RETURN_IF_ERROR(CheckOutputFile(args.item_features, "synth: --item-features"));
    if (!args.item_features.ends_with(".npy") || args.item_features.size() <= 4) {
      return absl::InvalidArgumentError("synth: --item-features: '" + args.item_features +
                                        "' must end in .npy");
    }
  }
  if (!args.item_text.empty()) {
    FEDREC_RETURN_IF_ERROR(CheckOutputFile(args.item_text, "synth: --item-text"));
  }
  const auto start = std::chrono::steady_clock::now();
  FEDREC_RETURN_IF_ERROR(WriteSyntheticDataset(args.options, args.out));
  if (!args.item_features.empty()) {
    FEDREC_RETURN_IF_ERROR(
        WriteSyntheticItemFeatures(args.options, args.content, args.item_features));
  }
  if (!args.item_text.empty()) {
    FEDREC_RETURN_IF_ERROR(WriteSyntheticItemText(args.options, args.content, args.item_text));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json j;
  j["out"] = args.out;
  j["users"] = args.options.users;
  j["items"] = args.options.items;
  j["seed"] = args.options.seed;
  j["bytes"] = std::filesystem::file_size(args.out);
  if (!args.item_features.empty()) {
    j["item_features"] = args.item_features;
    j["item_ids"] = SynthIdsPath(args.item_features);
    j["feature_dim"] = args.content.dim;
    j["feature_noise"] = args.content.noise;
  }
  if (!args.item_text.empty()) j["item_text"] = args.item_text;
  j["seconds"] = seconds;
  PrintJson(j);
  return absl::OkStatus();
}

void AddSynthFlags(CLI::App* cmd, SynthOptions* o) {
  cmd->add_option("--users", o->users, "number of users")->capture_default_str();
  cmd->add_option("--items", o->items, "number of items")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed: same seed, same bytes")->capture_default_str();
  cmd->add_option("--clusters", o->clusters, "item clusters (interests)")->capture_default_str();
  cmd->add_option("--zipf", o->zipf_exponent, "Zipf exponent of popularity within a cluster")
      ->capture_default_str();
  cmd->add_option("--interests", o->interests_per_user, "clusters per user")->capture_default_str();
  cmd->add_option("--interest-alpha", o->interest_alpha, "Dirichlet concentration of interests")
      ->capture_default_str();
  cmd->add_option("--p-markov", o->p_markov, "probability the next item follows a successor")
      ->capture_default_str();
  cmd->add_option("--successors", o->successors, "successor items per item")->capture_default_str();
  cmd->add_option("--mean-length", o->mean_length, "mean sequence length (log-normal)")
      ->capture_default_str();
  cmd->add_option("--length-sigma", o->length_sigma, "log-normal shape of lengths")
      ->capture_default_str();
  cmd->add_option("--min-length", o->min_length, "shortest sequence")->capture_default_str();
  cmd->add_option("--max-length", o->max_length, "longest sequence")->capture_default_str();
  cmd->add_option("--threads", o->threads, "0 = all cores (output does not depend on it)")
      ->check(ThreadCountRange())
      ->capture_default_str();
}

}  // namespace

void RegisterDataCommands(CLI::App& app, Dispatch& dispatch) {
  CLI::App* data = app.add_subcommand("data", "dataset tools");
  data->require_subcommand(1);

  static StatsArgs stats;
  CLI::App* stats_cmd = data->add_subcommand("stats", "parse a dataset and print its statistics");
  stats.data.AddTo(stats_cmd, "--input");
  stats_cmd->callback([&dispatch] { dispatch.run = [] { return RunStats(stats); }; });

  static SynthArgs synth;
  CLI::App* synth_cmd =
      data->add_subcommand("synth", "write a synthetic dataset with known structure");
  AddSynthFlags(synth_cmd, &synth.options);
  synth_cmd->add_option("--out", synth.out, "output file (.txt: SASRec text, .csv: CSV)")
      ->required();
  synth_cmd->add_option("--item-features", synth.item_features,
                        "also write item features carrying each item's cluster: float32 "
                        "[items x dim] .npy, ids (1-based, as in --out) in <stem>.ids.npy");
  synth_cmd->add_option("--feature-dim", synth.content.dim, "item feature dimension")
      ->capture_default_str();
  synth_cmd
      ->add_option("--feature-noise", synth.content.noise,
                   "noise against the cluster centroid (0: the centroid; 1: equal parts)")
      ->capture_default_str();
  synth_cmd->add_option("--item-text", synth.item_text,
                        "also write item text: item_id<TAB>words, cluster words plus noise words");
  synth_cmd->add_option("--text-words", synth.content.text_words, "words per item text")
      ->capture_default_str();
  synth_cmd
      ->add_option("--text-noise", synth.content.text_noise,
                   "share of uninformative words shared by all clusters")
      ->capture_default_str();
  synth_cmd->callback([&dispatch] { dispatch.run = [] { return RunSynth(synth); }; });
}

}  // namespace fedrec::cli
