#include "content/sentence_encoder.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/atomic_file.h"
#include "core/thread_pool.h"

namespace fedrec::content {
namespace {

namespace fs = std::filesystem;

// Reads what config.json says about the architecture, when the file exists.
absl::Status ReadConfig(const std::string& path, BertLoadOptions* options) {
  if (!fs::exists(path)) return absl::OkStatus();
  FEDREC_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(path + ": not a JSON object");
  }
  try {
    const std::string act = j.value("hidden_act", "gelu");
    if (act != "gelu") {
      return absl::InvalidArgumentError(path + ": hidden_act '" + act +
                                        "' is not supported (only gelu, the erf form)");
    }
    if (options->heads == 0) options->heads = j.value("num_attention_heads", size_t{0});
    options->layer_norm_eps = j.value("layer_norm_eps", options->layer_norm_eps);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(path + ": " + e.what());
  }
  return absl::OkStatus();
}

}  // namespace

std::string DefaultModelDir() {
  fs::path base;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d != nullptr && *d != '\0') {
    base = d;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    base = fs::path(home) / ".cache";
  } else {
    base = ".cache";
  }
  return (base / "fedrec" / "models" / "all-MiniLM-L6-v2").string();
}

absl::StatusOr<SentenceEncoder> SentenceEncoder::Load(const std::string& dir,
                                                      const SentenceEncoderOptions& options) {
  if (!fs::is_directory(dir)) {
    return absl::NotFoundError(dir + ": no model directory");
  }
  const std::string tokenizer_path = (fs::path(dir) / "tokenizer.json").string();
  const std::string weights_path = (fs::path(dir) / "model.safetensors").string();
  for (const std::string& p : {tokenizer_path, weights_path}) {
    if (!fs::exists(p)) return absl::NotFoundError(p + ": no such file");
  }
  BertLoadOptions load;
  load.heads = options.heads;
  FEDREC_RETURN_IF_ERROR(ReadConfig((fs::path(dir) / "config.json").string(), &load));
  FEDREC_ASSIGN_OR_RETURN(WordPieceTokenizer tokenizer, WordPieceTokenizer::Load(tokenizer_path));
  FEDREC_ASSIGN_OR_RETURN(BertEncoder model, BertEncoder::Load(weights_path, load));
  if (tokenizer.vocab_size() > model.config().vocab_size) {
    return absl::InvalidArgumentError(
        dir + ": the tokenizer's vocab (" + std::to_string(tokenizer.vocab_size()) +
        ") is larger than the model's (" + std::to_string(model.config().vocab_size) + ")");
  }
  return FromParts(std::move(tokenizer), std::move(model));
}

SentenceEncoder SentenceEncoder::FromParts(WordPieceTokenizer tokenizer, BertEncoder model) {
  return SentenceEncoder(std::make_shared<const WordPieceTokenizer>(std::move(tokenizer)),
                         std::make_shared<const BertEncoder>(std::move(model)));
}

absl::StatusOr<std::vector<float>> SentenceEncoder::Encode(std::span<const std::string> texts,
                                                           const EncodeOptions& options) const {
  if (options.batch_size == 0) return absl::InvalidArgumentError("batch size must be positive");
  if (options.max_length < 2) {
    return absl::InvalidArgumentError("max length must be at least 2 ([CLS] and [SEP])");
  }
  const size_t max_length = std::min(options.max_length, model_->config().max_positions);
  const size_t n = texts.size();
  const size_t dim = model_->dim();

  // Tokenise in parallel; each text writes its own slot.
  std::vector<std::vector<int32_t>> ids(n);
  FEDREC_RETURN_IF_ERROR(ParallelFor(n, options.threads, [&](size_t b, size_t e, size_t) {
    for (size_t i = b; i < e; ++i) {
      auto r = tokenizer_->Encode(texts[i], max_length);
      if (!r.ok()) {
        return absl::InvalidArgumentError("text " + std::to_string(i) + ": " +
                                          std::string(r.status().message()));
      }
      ids[i] = *std::move(r);
    }
    return absl::OkStatus();
  }));

  // Batches of similar length: texts ordered by token count.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return ids[a].size() < ids[b].size(); });

  std::vector<float> out(n * dim);
  const size_t threads = NumWorkers(n, options.batch_size, options.threads);
  std::vector<BertWorkspace> workspaces(std::max<size_t>(threads, 1));
  struct Scratch {
    std::vector<std::vector<int32_t>> batch;
    std::vector<float> rows;
  };
  std::vector<Scratch> scratch(workspaces.size());
  FEDREC_RETURN_IF_ERROR(ParallelForWithWorker(
      n, options.batch_size, options.threads,
      [&](size_t b, size_t e, size_t, size_t worker) -> absl::Status {
        Scratch& s = scratch[worker];
        s.batch.resize(e - b);
        for (size_t i = b; i < e; ++i) s.batch[i - b] = ids[order[i]];
        s.rows.resize((e - b) * dim);
        FEDREC_RETURN_IF_ERROR(model_->Encode(s.batch, &workspaces[worker], s.rows));
        for (size_t i = b; i < e; ++i) {
          std::copy_n(s.rows.data() + (i - b) * dim, dim, out.data() + order[i] * dim);
        }
        if (options.progress != nullptr) options.progress->Advance(e - b);
        return absl::OkStatus();
      }));
  return out;
}

}  // namespace fedrec::content
