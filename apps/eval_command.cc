// fedrec eval --model pop --data PATH | --checkpoint CKPT
#include <memory>

#include "apps/cli_common.h"
#include "apps/data_flags.h"
#include "coordinator/offline_eval.h"
#include "models/cuda/compute_backend.h"
#include "models/cuda/device_ranking.h"
#include "models/evaluation.h"
#include "models/factory.h"
#include "models/sasrec.h"
#include "proto/checkpoint.h"
#include "proto/local_shards.h"

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
  std::string compute = "cpu";
  double cold_items = 0;
  CLI::Option* cold_items_option = nullptr;  // given on the command line?
};

// --compute cuda: a ranking session on the GPU for `model` (SASRec and
// GRU4Rec on item ids with dot-product scores; the others rank on the CPU).
absl::StatusOr<std::unique_ptr<RankingSession>> DeviceRanking(const EvalArgs& args,
                                                              const Model& model) {
  if (!kernels::RankableOnDevice(model)) {
    return absl::InvalidArgumentError(
        "eval: --compute cuda ranks SASRec and GRU4Rec on item ids with dot-product scores; "
        "this model ('" +
        model.type() + "') ranks on the CPU (--compute cpu)");
  }
  FEDREC_ASSIGN_OR_RETURN(kernels::TensorOpsFactory ops,
                          DeviceTensorOpsFactory({.name = args.compute}));
  return kernels::NewRankingSessionOnDevice(model, ops);
}

absl::Status RunEval(const EvalArgs& args) {
  if (args.compute != "cpu" && args.compute != "cuda") {
    return absl::InvalidArgumentError("eval: --compute '" + args.compute +
                                      "' is not one of: cpu, cuda");
  }
  if (args.compute == "cuda" && args.checkpoint.empty()) {
    return absl::InvalidArgumentError(
        "eval: --compute cuda ranks a saved SASRec or GRU4Rec (--checkpoint); popularity ranks on "
        "the "
        "CPU");
  }
  if (args.checkpoint.empty() && args.model != "pop") {
    return absl::InvalidArgumentError("eval: --model '" + args.model +
                                      "' needs --checkpoint; only 'pop' is fitted on the fly");
  }
  OfflineEvalRequest request;
  request.data_path = args.data.input;
  FEDREC_ASSIGN_OR_RETURN(request.load, args.data.ToLoadOptions());
  EvalOptions& options = request.options;
  FEDREC_ASSIGN_OR_RETURN(options.protocol, ParseEvalProtocol(args.protocol));
  FEDREC_ASSIGN_OR_RETURN(options.part, ParseSplitPart(args.split));
  options.k = args.k;
  options.negatives = args.negatives;
  options.seed = args.seed;
  options.threads = args.threads;
  if (args.cold_items_option->count() > 0) {
    if (!(args.cold_items >= 0 && args.cold_items < 1)) {
      return absl::InvalidArgumentError("eval: --cold-items must be in [0, 1)");
    }
    request.cold_items = args.cold_items;
  }

  nlohmann::json result;
  if (args.checkpoint.empty()) {
    FEDREC_ASSIGN_OR_RETURN(result, EvaluatePopularity(request));
  } else {
    FEDREC_ASSIGN_OR_RETURN(Checkpoint ckpt, ReadCheckpointWithLocalShards(args.checkpoint));
    FEDREC_ASSIGN_OR_RETURN(std::shared_ptr<const ItemFeatures> features,
                            LoadCheckpointItemFeatures(ckpt, args.checkpoint));
    absl::StatusOr<std::unique_ptr<Model>> model = LoadModel(ckpt, std::move(features));
    if (!model.ok()) return WithContext(model.status(), args.checkpoint);
    std::unique_ptr<RankingSession> session;
    if (args.compute == "cuda") {
      FEDREC_ASSIGN_OR_RETURN(session, DeviceRanking(args, **model));
      request.options.ranking = session.get();
    }
    FEDREC_ASSIGN_OR_RETURN(result,
                            EvaluateCheckpointModel(ckpt, **model, args.checkpoint, request));
  }
  PrintJson(result);
  return absl::OkStatus();
}

}  // namespace

void RegisterEvalCommand(CLI::App& app, Dispatch& dispatch) {
  static EvalArgs args;
  CLI::App* cmd = app.add_subcommand("eval", "evaluate a model (HR@K, NDCG@K, MRR) on a split");
  args.data.AddTo(cmd, "--data");
  CLI::Option* model =
      cmd->add_option("--model", args.model, "model fitted on the fly: pop")->capture_default_str();
  // Either a model fitted on the fly or a saved one; both would leave one
  // silently ignored.
  cmd->add_option("--checkpoint", args.checkpoint,
                  "evaluate a saved model (data cleaned as in its run)")
      ->excludes(model);
  cmd->add_option("--protocol", args.protocol, "sampled|full")->capture_default_str();
  cmd->add_option("--split", args.split, "valid|test")->capture_default_str();
  cmd->add_option("-k", args.k, "cut-off K of HR@K and NDCG@K")->capture_default_str();
  cmd->add_option("--negatives", args.negatives, "negatives per user (sampled protocol)")
      ->capture_default_str();
  cmd->add_option("--seed", args.seed, "seed of the negative-sampling stream")
      ->capture_default_str();
  cmd->add_option("--threads", args.threads, "0 = all cores")
      ->check(ThreadCountRange())
      ->capture_default_str();
  cmd->add_option("--compute", args.compute,
                  "cpu|cuda: cuda ranks a SASRec checkpoint's users on the GPU (metrics equal "
                  "up to scores that nearly tie)")
      ->capture_default_str();
  args.cold_items_option = cmd->add_option(
      "--cold-items", args.cold_items,
      "fraction of items withheld from training, reported apart as \"cold\" (default: the "
      "checkpoint's eval.cold_items, 0 for pop)");
  cmd->callback([&dispatch] { dispatch.run = [] { return RunEval(args); }; });
}

}  // namespace fedrec::cli
