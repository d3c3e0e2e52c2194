// fedrec data stats | data synth | data embed-items
#include <chrono>
#include <filesystem>

#include "apps/cli_common.h"
#include "apps/data_flags.h"
#include "content/item_text.h"
#include "content/sentence_encoder.h"
#include "core/output_path.h"
#include "core/progress.h"
#include "data/stats.h"
#include "data/synth.h"
#include "data/synth_content.h"
#include "data/tensor_files.h"

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

struct EmbedArgs {
  std::string items;
  std::string format = "auto";
  std::string model;
  std::string out;
  size_t threads = 0;
  size_t batch_size = 32;
  size_t max_length = content::kDefaultMaxLength;
  size_t heads = 0;
  bool quiet = false;
};

// "<stem>.npy" -> "<stem>.ids.npy": the id list data/item_features.h reads
// beside a feature file ("auto" ids).
std::string IdsPath(const std::string& out) { return out.substr(0, out.size() - 4) + ".ids.npy"; }

absl::Status RunEmbedItems(const EmbedArgs& args) {
  if (args.out.size() <= 4 || args.out.substr(args.out.size() - 4) != ".npy") {
    return absl::InvalidArgumentError("embed-items: --out must name a .npy file");
  }
  FEDREC_RETURN_IF_ERROR(CheckOutputFile(args.out, "embed-items: --out"));
  FEDREC_ASSIGN_OR_RETURN(content::ItemTextFormat format,
                          content::ParseItemTextFormat(args.format));
  const auto start = std::chrono::steady_clock::now();
  FEDREC_ASSIGN_OR_RETURN(content::ItemTexts items, content::ReadItemTexts(args.items, format));
  const std::string model_dir = args.model.empty() ? content::DefaultModelDir() : args.model;
  auto encoder =
      content::SentenceEncoder::Load(model_dir, content::SentenceEncoderOptions{args.heads});
  if (absl::IsNotFound(encoder.status())) {
    return absl::NotFoundError(std::string(encoder.status().message()) +
                               " (fetch all-MiniLM-L6-v2 with FEDREC_WITH_ENCODER=1 "
                               "scripts/setup.sh, or pass --model DIR)");
  }
  FEDREC_RETURN_IF_ERROR(encoder.status());
  const auto loaded = std::chrono::steady_clock::now();

  ProgressOptions progress_options;
  progress_options.quiet = args.quiet;
  ProgressReporter progress("embed-items", items.texts.size(), progress_options);
  content::EncodeOptions options{args.threads, args.batch_size, args.max_length, &progress};
  auto values = encoder->Encode(items.texts, options);
  progress.Finish();
  if (!values.ok()) {
    return absl::InvalidArgumentError(args.items + ": " + std::string(values.status().message()));
  }
  const double encode_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - loaded).count();

  const std::vector<uint64_t> shape = {items.ids.size(), encoder->dim()};
  const std::vector<uint64_t> id_shape = {items.ids.size()};
  FEDREC_RETURN_IF_ERROR(
      WriteNpy(IdsPath(args.out), id_shape, std::span<const int64_t>(items.ids)));
  FEDREC_RETURN_IF_ERROR(WriteNpy(args.out, shape, std::span<const float>(*values)));
  nlohmann::json j;
  j["items"] = items.ids.size();
  j["dim"] = encoder->dim();
  j["out"] = args.out;
  j["ids"] = IdsPath(args.out);
  j["model"] = model_dir;
  j["threads"] = ResolveThreads(args.threads);
  j["encode_seconds"] = encode_s;
  j["items_per_second"] = encode_s > 0 ? static_cast<double>(items.ids.size()) / encode_s : 0.0;
  j["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PrintJson(j);
  return absl::OkStatus();
}

void AddEmbedFlags(CLI::App* cmd, EmbedArgs* a) {
  cmd->add_option("--items", a->items,
                  "item text: MovieLens u.item / movies.dat, or item_id,text CSV/TSV")
      ->required();
  cmd->add_option("--format", a->format, "auto|movielens|csv")->capture_default_str();
  cmd->add_option("--model", a->model,
                  "sentence-transformers directory with tokenizer.json and model.safetensors "
                  "(default " +
                      content::DefaultModelDir() + ")");
  cmd->add_option("--out", a->out,
                  "features (.npy, float32 [items x dim]); ids go to <stem>.ids.npy")
      ->required();
  cmd->add_option("--threads", a->threads, "0 = all cores (output does not depend on it)")
      ->check(ThreadCountRange())
      ->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size, "texts per batch (similar lengths together)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 16))
      ->capture_default_str();
  cmd->add_option("--max-length", a->max_length, "tokens per text with [CLS] and [SEP]")
      ->check(CLI::Range(size_t{2}, size_t{1} << 16))
      ->capture_default_str();
  cmd->add_option("--heads", a->heads,
                  "attention heads; 0 = config.json's, else hidden/32 (MiniLM)")
      ->capture_default_str();
  cmd->add_flag("--quiet", a->quiet, "no progress line");
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

  static EmbedArgs embed;
  CLI::App* embed_cmd = data->add_subcommand(
      "embed-items", "encode item text with a sentence encoder (all-MiniLM-L6-v2) into a .npy");
  AddEmbedFlags(embed_cmd, &embed);
  embed_cmd->callback([&dispatch] { dispatch.run = [] { return RunEmbedItems(embed); }; });
}

}  // namespace fedrec::cli
