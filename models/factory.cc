#include "models/factory.h"

#include <charconv>
#include <cstdlib>

#include "fmt/format.h"
#include "models/gru4rec.h"
#include "models/item_repr.h"
#include "models/mf.h"
#include "models/sasrec.h"
#include "proto/checkpoint.h"

namespace fedrec {
namespace {

std::string Extra(const proto::ModelSpec& spec, const std::string& key, const std::string& def) {
  const auto it = spec.extra().find(key);
  return it == spec.extra().end() ? def : it->second;
}

absl::StatusOr<double> ExtraNumber(const proto::ModelSpec& spec, const std::string& key,
                                   double def) {
  const std::string text = Extra(spec, key, "");
  if (text.empty()) return def;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) {
    return absl::InvalidArgumentError("model spec: " + key + " = '" + text + "' is not a number");
  }
  return v;
}

// The paper loss of each model, for train.loss = "auto".
std::string ResolveLoss(const std::string& type, const std::string& loss) {
  if (loss != "auto") return loss;
  if (type == "sasrec") return "bce";
  if (type == "mf_rating") return "mse";
  return "bpr";  // gru4rec, mf_bpr
}

absl::Status LossError(const std::string& type, const std::string& loss,
                       const std::string& allowed) {
  return absl::InvalidArgumentError("train.loss: '" + loss + "' is not available for model '" +
                                    type + "' (use " + allowed + ")");
}

absl::StatusOr<std::unique_ptr<Model>> CreateCpuModel(const proto::ModelSpec& spec,
                                                      std::shared_ptr<const ItemFeatures> features);

// The item representation a spec asks for (models/item_repr.h).
absl::StatusOr<ItemReprOptions> ItemReprFromSpec(const proto::ModelSpec& spec) {
  ItemReprOptions o;
  FEDREC_ASSIGN_OR_RETURN(o.repr, ParseItemRepr(Extra(spec, "item_repr", "id")));
  if (o.repr == ItemRepr::kId) return o;
  FEDREC_ASSIGN_OR_RETURN(o.adapter, ParseAdapterKind(Extra(spec, "adapter", "linear")));
  FEDREC_ASSIGN_OR_RETURN(const double f, ExtraNumber(spec, "feature_dim", 0));
  FEDREC_ASSIGN_OR_RETURN(const double h, ExtraNumber(spec, "adapter_hidden", 0));
  if (!(f >= 0 && f < 4294967296.0 && h >= 0 && h < 4294967296.0)) {
    return absl::InvalidArgumentError("model spec: feature_dim / adapter_hidden out of range");
  }
  o.feature_dim = static_cast<uint32_t>(f);
  o.adapter_hidden = static_cast<uint32_t>(h);
  return o;
}

}  // namespace

absl::StatusOr<proto::ModelSpec> ModelSpecFromConfig(const Config& config, uint32_t num_users,
                                                     uint32_t num_items, uint32_t feature_dim) {
  const std::string& type = config.model.type;
  if (type == "pop") {
    return absl::InvalidArgumentError(
        "model.type 'pop' is not trained; evaluate it with `fedrec eval --model pop`");
  }
  proto::ModelSpec spec;
  spec.set_type(type);
  spec.set_dim(static_cast<uint32_t>(config.model.dim));
  spec.set_blocks(static_cast<uint32_t>(config.model.blocks));
  spec.set_heads(static_cast<uint32_t>(config.model.heads));
  spec.set_max_len(static_cast<uint32_t>(config.data.max_len));
  spec.set_num_items(num_items);
  spec.set_num_users(num_users);
  auto& extra = *spec.mutable_extra();
  extra["dropout"] = std::to_string(config.model.dropout);
  extra["loss"] = ResolveLoss(type, config.train.loss);
  extra["negatives"] = std::to_string(config.train.negatives);
  extra["pre_ln"] = config.model.pre_ln ? "true" : "false";
  extra["l2"] = std::to_string(config.model.l2);
  // Written only when not the default, so that paper-recipe specs (and the
  // checkpoints holding them) stay byte-identical to earlier versions.
  const TrainConfig& t = config.train;
  if (t.negative_sampler != "uniform") extra["negative_sampler"] = t.negative_sampler;
  if (t.negative_sharing != "sequence") extra["negative_sharing"] = t.negative_sharing;
  if (config.model.output_embedding != "tied") {
    if (type != "gru4rec" && type != "sasrec") {
      return absl::InvalidArgumentError(
          "model.output_embedding: 'separate' is implemented for sasrec and gru4rec (not '" + type +
          "')");
    }
    extra["output_embedding"] = config.model.output_embedding;
  }
  if (t.normalize_embeddings) extra["normalize"] = "true";
  if (t.temperature != 1.0) extra["temperature"] = fmt::format("{}", t.temperature);
  if (extra["loss"] == "gbce") extra["gbce_t"] = fmt::format("{}", t.gbce_t);
  if (t.negative_sampler == "popularity" && config.federation.mode != "central") {
    // The counts are every user's items pooled: knowledge a federated client
    // does not have.
    return absl::InvalidArgumentError(
        "train.negative_sampler: 'popularity' needs the pooled item counts, available in "
        "central training only (federation.mode = \"central\")");
  }
  const std::string& repr = config.model.item_repr;
  if (repr != "id") {
    if (type == "mf_rating") {
      return absl::InvalidArgumentError("model.item_repr: '" + repr +
                                        "' is implemented for sasrec, gru4rec and mf_bpr (not '" +
                                        type + "')");
    }
    if (feature_dim == 0) {
      return absl::InvalidArgumentError("model.item_repr: '" + repr +
                                        "' needs item features (data.item_features)");
    }
    FEDREC_RETURN_IF_ERROR(ParseItemRepr(repr).status());
    FEDREC_RETURN_IF_ERROR(ParseAdapterKind(config.model.adapter).status());
  }
  // Building the model once validates the combination before any work (the
  // id variant of the spec: the features are not at hand here).
  FEDREC_RETURN_IF_ERROR(CreateModel(spec).status());
  if (repr != "id") {
    extra["item_repr"] = repr;
    extra["adapter"] = config.model.adapter;
    if (config.model.adapter == "mlp") {
      extra["adapter_hidden"] = std::to_string(config.model.adapter_hidden);
    }
    extra["feature_dim"] = std::to_string(feature_dim);
  }
  return spec;
}

absl::StatusOr<std::unique_ptr<Model>> CreateModel(const proto::ModelSpec& spec,
                                                   const std::string& compute,
                                                   std::shared_ptr<const ItemFeatures> features) {
  if (compute == "cuda") {
    return absl::FailedPreconditionError(
        "backend.compute: 'cuda': GPU models are built through CreateModelOnBackend "
        "(models/cuda/compute_backend.h)");
  }
  if (compute != "cpu") {
    return absl::InvalidArgumentError("backend.compute: unknown backend '" + compute +
                                      "'; allowed: cpu, cuda");
  }
  return CreateCpuModel(spec, std::move(features));
}

absl::StatusOr<std::unique_ptr<Model>> CreateModel(const proto::ModelSpec& spec) {
  return CreateCpuModel(spec, nullptr);
}

namespace {

absl::StatusOr<std::unique_ptr<Model>> CreateCpuModel(
    const proto::ModelSpec& spec, std::shared_ptr<const ItemFeatures> features) {
  const std::string& type = spec.type();
  const std::string loss = Extra(spec, "loss", ResolveLoss(type, "auto"));
  FEDREC_ASSIGN_OR_RETURN(const double dropout, ExtraNumber(spec, "dropout", 0.0));
  FEDREC_ASSIGN_OR_RETURN(const double l2, ExtraNumber(spec, "l2", 0.0));
  FEDREC_ASSIGN_OR_RETURN(const double negatives, ExtraNumber(spec, "negatives", 100));
  FEDREC_ASSIGN_OR_RETURN(const double temperature, ExtraNumber(spec, "temperature", 1.0));
  FEDREC_ASSIGN_OR_RETURN(const double gbce_t, ExtraNumber(spec, "gbce_t", 0.75));
  const bool normalize = Extra(spec, "normalize", "false") == "true";
  const std::string sampler = Extra(spec, "negative_sampler", "uniform");
  const std::string sharing = Extra(spec, "negative_sharing", "sequence");
  if (sharing != "sequence" && sharing != "position") {
    return absl::InvalidArgumentError("model spec: negative_sharing = '" + sharing +
                                      "' is not one of: sequence, position");
  }
  const bool per_position = sharing == "position";
  if (sampler != "uniform" && sampler != "popularity") {
    return absl::InvalidArgumentError("model spec: negative_sampler = '" + sampler +
                                      "' is not one of: uniform, popularity");
  }
  const auto items = static_cast<uint32_t>(spec.num_items());
  const auto users = static_cast<uint32_t>(spec.num_users());
  FEDREC_ASSIGN_OR_RETURN(const ItemReprOptions item_repr, ItemReprFromSpec(spec));
  if (item_repr.repr != ItemRepr::kId && type == "mf_rating") {
    return absl::InvalidArgumentError(
        std::string("model.item_repr: '") + ItemReprName(item_repr.repr) +
        "' is implemented for sasrec, gru4rec and mf_bpr (not '" + type + "')");
  }
  // id models ignore features: a trainer may pass whatever it loaded.
  if (item_repr.repr == ItemRepr::kId) features = nullptr;
  const bool sequence_model = type == "sasrec" || type == "gru4rec";
  const bool head_options = normalize || temperature != 1.0 || sampler != "uniform" || per_position;
  if (!sequence_model && head_options) {
    return absl::InvalidArgumentError(
        "train.normalize_embeddings, train.temperature, train.negative_sampler, "
        "train.negative_sharing: implemented for model.type = \"sasrec\" and \"gru4rec\" only "
        "(not '" +
        type + "')");
  }
  if (sequence_model && (loss == "bce" || loss == "bpr") && head_options) {
    return absl::InvalidArgumentError(
        "train.normalize_embeddings, train.temperature, train.negative_sampler, "
        "train.negative_sharing: apply to the ce, sampled_softmax and gbce losses, not to " +
        type + "'s " + loss);
  }
  if (sequence_model && loss == "ce" && (sampler != "uniform" || per_position)) {
    return absl::InvalidArgumentError(
        "train.negative_sampler, train.negative_sharing: the full softmax (ce) samples no "
        "negatives; use sampled_softmax or gbce");
  }
  const NegativeSampler negative_sampler =
      sampler == "popularity" ? NegativeSampler::kPopularity : NegativeSampler::kUniform;

  if (type == "sasrec") {
    SasRecOptions o;
    o.num_items = items;
    o.dim = spec.dim();
    o.blocks = spec.blocks();
    o.heads = spec.heads();
    o.max_len = spec.max_len();
    o.dropout = dropout;
    o.pre_ln = Extra(spec, "pre_ln", "false") == "true";
    o.l2_emb = l2;
    o.normalize = normalize;
    o.temperature = temperature;
    o.gbce_t = gbce_t;
    o.sampler = negative_sampler;
    o.negatives_per_position = per_position;
    o.separate_output = Extra(spec, "output_embedding", "tied") == "separate";
    o.item_repr = item_repr;
    if (loss == "bce") {
      o.loss = SasRecLoss::kBce;
    } else if (loss == "ce" || loss == "sampled_softmax" || loss == "gbce") {
      o.loss = loss == "gbce" ? SasRecLoss::kGbce : SasRecLoss::kCe;
      o.ce_negatives = loss == "ce" ? 0 : static_cast<uint32_t>(negatives);
    } else {
      return LossError(type, loss, "bce, ce, sampled_softmax or gbce");
    }
    FEDREC_ASSIGN_OR_RETURN(auto model, SasRecModel::Create(o, std::move(features)));
    return std::unique_ptr<Model>(std::move(model));
  }
  if (type == "gru4rec") {
    Gru4RecOptions o;
    o.num_items = items;
    o.dim = spec.dim();
    o.layers = spec.blocks();
    o.max_len = spec.max_len();
    o.dropout = static_cast<float>(dropout);
    if (loss == "bpr") {
      o.loss = SeqLoss::kBpr;
      o.negatives = 1;
    } else if (loss == "ce" || loss == "sampled_softmax" || loss == "gbce") {
      o.loss = loss == "gbce" ? SeqLoss::kGbce : SeqLoss::kCe;
      o.negatives = loss == "ce" ? 0 : static_cast<uint32_t>(negatives);
    } else {
      return LossError(type, loss, "bpr, ce, sampled_softmax or gbce");
    }
    o.sampler = negative_sampler;
    o.negatives_per_position = per_position;
    o.separate_output = Extra(spec, "output_embedding", "tied") == "separate";
    o.normalize = normalize;
    o.temperature = temperature;
    o.gbce_t = gbce_t;
    o.item_repr = item_repr;
    FEDREC_ASSIGN_OR_RETURN(auto model, Gru4RecModel::Create(o, std::move(features)));
    return std::unique_ptr<Model>(std::move(model));
  }
  if (type == "mf_bpr") {
    if (loss != "bpr") return LossError(type, loss, "bpr");
    MfBprOptions o;
    o.num_users = users;
    o.num_items = items;
    o.dim = spec.dim();
    o.l2 = static_cast<float>(l2);
    o.item_repr = item_repr;
    FEDREC_ASSIGN_OR_RETURN(auto model, MfBprModel::Create(o, std::move(features)));
    return std::unique_ptr<Model>(std::move(model));
  }
  if (type == "mf_rating") {
    if (loss != "mse") return LossError(type, loss, "mse");
    MfRatingOptions o;
    o.num_users = users;
    o.num_items = items;
    o.dim = spec.dim();
    o.l2 = static_cast<float>(l2);
    FEDREC_ASSIGN_OR_RETURN(const double mean, ExtraNumber(spec, "global_mean", 0.0));
    o.global_mean = static_cast<float>(mean);
    FEDREC_ASSIGN_OR_RETURN(auto model, MfRatingModel::Create(o));
    return std::unique_ptr<Model>(std::move(model));
  }
  return absl::InvalidArgumentError("model.type: '" + type +
                                    "' is not one of: sasrec, gru4rec, mf_bpr, mf_rating");
}

}  // namespace

void SaveModel(const proto::ModelSpec& spec, const Model& model, proto::Checkpoint* checkpoint) {
  *checkpoint->mutable_model() = spec;
  checkpoint->clear_tensors();
  StoreToTensors(model.global_params(), checkpoint->mutable_tensors());
  checkpoint->clear_local_tensors();
  if (const ParameterStore* local = model.local_params()) {
    StoreToTensors(*local, checkpoint->mutable_local_tensors());
  }
}

absl::StatusOr<std::unique_ptr<Model>> LoadModel(const proto::Checkpoint& checkpoint,
                                                 std::shared_ptr<const ItemFeatures> features) {
  FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                          CreateCpuModel(checkpoint.model(), std::move(features)));
  // StoreFromTensors says "checkpoint: ..." itself; the caller adds the path.
  FEDREC_RETURN_IF_ERROR(StoreFromTensors(checkpoint.tensors(), &model->global_params()));
  if (ParameterStore* local = model->local_params()) {
    FEDREC_RETURN_IF_ERROR(StoreFromTensors(checkpoint.local_tensors(), local));
  } else if (checkpoint.local_tensors_size() != 0) {
    return absl::InvalidArgumentError("checkpoint: local tensors for a model that has none");
  }
  return model;
}

}  // namespace fedrec
