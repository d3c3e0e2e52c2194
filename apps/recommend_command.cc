// fedrec recommend --checkpoint CKPT --history "i1 i2 ..." [-k 10] [--user U]
//
// Ids are the data's original ids (the checkpoint carries the mapping).
// Items of the history are excluded from the list unless --include-history.
// The ranking is models/recommend.h's (shared with the Python package).
#include <charconv>

#include "apps/cli_common.h"
#include "models/recommend.h"
#include "proto/checkpoint.h"
#include "proto/local_shards.h"

namespace fedrec::cli {
namespace {

struct RecommendArgs {
  std::string checkpoint;
  std::string history;
  uint32_t k = 10;
  std::string user;
  bool include_history = false;
};

absl::StatusOr<std::vector<uint64_t>> ParseIds(const std::string& text) {
  std::vector<uint64_t> ids;
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    while (p < end && (*p == ' ' || *p == ',' || *p == '\t')) ++p;
    if (p == end) break;
    uint64_t id = 0;
    const auto [next, ec] = std::from_chars(p, end, id);
    if (ec != std::errc() || (next < end && *next != ' ' && *next != ',' && *next != '\t')) {
      const char* stop = p;
      while (stop < end && *stop != ' ' && *stop != ',') ++stop;
      return absl::InvalidArgumentError("--history: '" + std::string(p, stop) +
                                        "' is not a non-negative integer id");
    }
    ids.push_back(id);
    p = next;
  }
  return ids;
}

absl::Status RunRecommend(const RecommendArgs& args) {
  // Checked before the checkpoint is read (Recommend checks it too).
  if (args.k == 0) return absl::InvalidArgumentError("recommend: -k must be at least 1");
  if (args.user.empty() && args.history.find_first_not_of(" ,\t") == std::string::npos) {
    // Nothing to condition on: every item would score the same.
    return absl::InvalidArgumentError(
        "recommend: --history is empty; give the item ids the user interacted with (or --user "
        "for an MF model)");
  }
  FEDREC_ASSIGN_OR_RETURN(Checkpoint ckpt, ReadCheckpointWithLocalShards(args.checkpoint));
  FEDREC_ASSIGN_OR_RETURN(Recommender recommender,
                          Recommender::Create(std::move(ckpt), args.checkpoint,
                                              /*features=*/nullptr));
  RecommendRequest request;
  request.k = args.k;
  request.include_history = args.include_history;
  FEDREC_ASSIGN_OR_RETURN(request.history, ParseIds(args.history));
  if (!args.user.empty()) {
    FEDREC_ASSIGN_OR_RETURN(std::vector<uint64_t> u, ParseIds(args.user));
    if (u.size() != 1) {
      return absl::InvalidArgumentError("--user: '" + args.user + "' is not a user of the model");
    }
    request.user = u[0];
  }
  FEDREC_ASSIGN_OR_RETURN(std::vector<Recommendation> recommendations,
                          recommender.Recommend(request));
  nlohmann::json out;
  out["model"] = recommender.checkpoint().model().type();
  out["history"] = request.history;
  nlohmann::json items = nlohmann::json::array();
  for (const Recommendation& r : recommendations) {
    items.push_back({{"item", r.item}, {"score", r.score}});
  }
  out["recommendations"] = items;
  PrintJson(out);
  return absl::OkStatus();
}

}  // namespace

void RegisterRecommendCommand(CLI::App& app, Dispatch& dispatch) {
  static RecommendArgs args;
  CLI::App* cmd = app.add_subcommand("recommend", "top-k items for a history from a checkpoint");
  cmd->add_option("--checkpoint", args.checkpoint, "checkpoint file")->required();
  cmd->add_option("--history", args.history, "item ids in time order, e.g. \"12 7 33\"")
      ->required();
  cmd->add_option("-k", args.k, "number of items")->capture_default_str();
  cmd->add_option("--user", args.user, "original user id (MF models score by user)");
  cmd->add_flag("--include-history", args.include_history, "allow items of the history");
  cmd->callback([&dispatch] { dispatch.run = [] { return RunRecommend(args); }; });
}

}  // namespace fedrec::cli
