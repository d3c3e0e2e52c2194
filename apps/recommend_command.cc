// fedrec recommend --checkpoint CKPT --history "i1 i2 ..." [-k 10] [--user U]
//
// Ids are the data's original ids (the checkpoint carries the mapping).
// Items of the history are excluded from the list unless --include-history.
#include <algorithm>
#include <charconv>
#include <numeric>
#include <unordered_map>

#include "apps/cli_common.h"
#include "models/factory.h"
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
  if (args.k == 0) return absl::InvalidArgumentError("recommend: -k must be at least 1");
  FEDREC_ASSIGN_OR_RETURN(Checkpoint ckpt, ReadCheckpointWithLocalShards(args.checkpoint));
  if (ckpt.item_ids_size() == 0) {
    return absl::InvalidArgumentError(args.checkpoint +
                                      ": the checkpoint carries no item ids to recommend with");
  }
  FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadModel(ckpt));
  std::unordered_map<uint64_t, uint32_t> dense;
  for (int i = 0; i < ckpt.item_ids_size(); ++i) dense.emplace(ckpt.item_ids(i), i);

  FEDREC_ASSIGN_OR_RETURN(std::vector<uint64_t> history_ids, ParseIds(args.history));
  std::vector<uint32_t> history;
  for (uint64_t id : history_ids) {
    const auto it = dense.find(id);
    if (it == dense.end()) {
      return absl::InvalidArgumentError("--history: item " + std::to_string(id) +
                                        " is not in the model's catalogue");
    }
    history.push_back(it->second);
  }
  uint32_t user = Scorer::kUnknownUser;
  if (!args.user.empty()) {
    FEDREC_ASSIGN_OR_RETURN(std::vector<uint64_t> u, ParseIds(args.user));
    const auto pos = u.size() == 1 ? std::find(ckpt.user_ids().begin(), ckpt.user_ids().end(), u[0])
                                   : ckpt.user_ids().end();
    if (pos == ckpt.user_ids().end()) {
      return absl::InvalidArgumentError("--user: '" + args.user + "' is not a user of the model");
    }
    user = static_cast<uint32_t>(pos - ckpt.user_ids().begin());
  }

  std::vector<float> scores(model->num_items());
  model->ScoreAll(user, history, scores);
  std::vector<uint32_t> candidates(model->num_items());
  std::iota(candidates.begin(), candidates.end(), 0u);
  if (!args.include_history) {
    std::vector<uint8_t> seen(model->num_items(), 0);
    for (uint32_t item : history) seen[item] = 1;
    std::erase_if(candidates, [&](uint32_t item) { return seen[item] != 0; });
  }
  const size_t k = std::min<size_t>(args.k, candidates.size());
  // Highest score first; ties by dense id for a stable answer.
  std::partial_sort(candidates.begin(), candidates.begin() + k, candidates.end(),
                    [&](uint32_t a, uint32_t b) {
                      return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
                    });
  nlohmann::json out;
  out["model"] = ckpt.model().type();
  out["history"] = history_ids;
  nlohmann::json items = nlohmann::json::array();
  for (size_t r = 0; r < k; ++r) {
    items.push_back({{"item", ckpt.item_ids(candidates[r])}, {"score", scores[candidates[r]]}});
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
