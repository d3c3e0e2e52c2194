// fedrec eval --model pop --data PATH | --checkpoint CKPT
#include <chrono>

#include "apps/cli_common.h"
#include "apps/data_flags.h"
#include "data/split.h"
#include "models/evaluation.h"
#include "models/pop.h"

namespace fedrec::cli {
namespace {

struct EvalArgs {
  DataFlags data;
  std::string model = "pop";
  std::string checkpoint;
  std::string protocol = "sampled";
  std::string split = "test";
  uint32_t k = 10;
  uint32_t negatives = 100;
  uint64_t seed = 0;
  uint32_t threads = 0;
};

absl::Status RunEval(const EvalArgs& args) {
  if (!args.checkpoint.empty()) {
    return absl::UnimplementedError(
        "eval --checkpoint: trained models arrive with issue #3; use --model pop for now");
  }
  if (args.model != "pop") {
    return absl::InvalidArgumentError("eval: --model '" + args.model +
                                      "' cannot be evaluated without a checkpoint; "
                                      "only 'pop' is fitted on the fly");
  }
  EvalOptions options;
  FEDREC_ASSIGN_OR_RETURN(options.protocol, ParseEvalProtocol(args.protocol));
  FEDREC_ASSIGN_OR_RETURN(options.part, ParseSplitPart(args.split));
  options.k = args.k;
  options.negatives = args.negatives;
  options.seed = args.seed;
  options.threads = args.threads;

  FEDREC_ASSIGN_OR_RETURN(LoadOptions load, args.data.ToLoadOptions());
  FEDREC_ASSIGN_OR_RETURN(Dataset dataset, LoadDataset(args.data.input, load));
  const LeaveOneOutSplit split(dataset);
  const auto start = std::chrono::steady_clock::now();
  const PopularityModel pop = PopularityModel::Fit(split);
  FEDREC_ASSIGN_OR_RETURN(EvalResult result, Evaluate(pop, split, options));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const RankMetrics mean = result.Mean();
  const std::string k = std::to_string(options.k);
  nlohmann::json j;
  j["model"] = args.model;
  j["data"] = args.data.input;
  j["protocol"] = EvalProtocolName(options.protocol);
  j["split"] = SplitPartName(options.part);
  if (options.protocol == EvalProtocol::kSampled) j["negatives"] = options.negatives;
  j["k"] = options.k;
  j["users"] = result.sums.users;
  j["skipped_users"] = result.skipped_users;
  j["HR@" + k] = mean.hr;
  j["NDCG@" + k] = mean.ndcg;
  j["MRR"] = mean.mrr;
  j["seconds"] = seconds;
  PrintJson(j);
  return absl::OkStatus();
}

}  // namespace

void RegisterEvalCommand(CLI::App& app, Dispatch& dispatch) {
  static EvalArgs args;
  CLI::App* cmd = app.add_subcommand("eval", "evaluate a model (HR@K, NDCG@K, MRR) on a split");
  args.data.AddTo(cmd, "--data");
  cmd->add_option("--model", args.model, "model fitted on the fly: pop")->capture_default_str();
  cmd->add_option("--checkpoint", args.checkpoint, "evaluate a saved model (issue #3)");
  cmd->add_option("--protocol", args.protocol, "sampled|full")->capture_default_str();
  cmd->add_option("--split", args.split, "valid|test")->capture_default_str();
  cmd->add_option("-k", args.k, "cut-off K of HR@K and NDCG@K")->capture_default_str();
  cmd->add_option("--negatives", args.negatives, "negatives per user (sampled protocol)")
      ->capture_default_str();
  cmd->add_option("--seed", args.seed, "seed of the negative-sampling stream")
      ->capture_default_str();
  cmd->add_option("--threads", args.threads, "0 = all cores")->capture_default_str();
  cmd->callback([&dispatch] { dispatch.run = [] { return RunEval(args); }; });
}

}  // namespace fedrec::cli
