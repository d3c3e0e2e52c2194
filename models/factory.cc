#include "models/factory.h"

#include "proto/checkpoint.h"

namespace fedrec {

absl::StatusOr<proto::ModelSpec> ModelSpecFromConfig(const Config& config, uint32_t num_users,
                                                     uint32_t num_items) {
  proto::ModelSpec spec;
  spec.set_type(config.model.type);
  spec.set_dim(static_cast<uint32_t>(config.model.dim));
  spec.set_blocks(static_cast<uint32_t>(config.model.blocks));
  spec.set_heads(static_cast<uint32_t>(config.model.heads));
  spec.set_max_len(static_cast<uint32_t>(config.data.max_len));
  spec.set_num_items(num_items);
  spec.set_num_users(num_users);
  (*spec.mutable_extra())["dropout"] = std::to_string(config.model.dropout);
  (*spec.mutable_extra())["loss"] = config.train.loss;
  if (config.model.type == "pop") {
    return absl::InvalidArgumentError(
        "model.type 'pop' is not trained; evaluate it with `fedrec eval --model pop`");
  }
  return spec;
}

absl::StatusOr<std::unique_ptr<Model>> CreateModel(const proto::ModelSpec& spec) {
  return absl::UnimplementedError("model type '" + spec.type() +
                                  "' is not available in this build (issue #3)");
}

void SaveModel(const proto::ModelSpec& spec, const Model& model, proto::Checkpoint* checkpoint) {
  *checkpoint->mutable_model() = spec;
  checkpoint->clear_tensors();
  StoreToTensors(model.global_params(), checkpoint->mutable_tensors());
  checkpoint->clear_local_tensors();
  if (const ParameterStore* local = model.local_params()) {
    StoreToTensors(*local, checkpoint->mutable_local_tensors());
  }
}

absl::StatusOr<std::unique_ptr<Model>> LoadModel(const proto::Checkpoint& checkpoint) {
  FEDREC_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, CreateModel(checkpoint.model()));
  FEDREC_RETURN_IF_ERROR(
      WithContext(StoreFromTensors(checkpoint.tensors(), &model->global_params()), "checkpoint"));
  if (ParameterStore* local = model->local_params()) {
    FEDREC_RETURN_IF_ERROR(
        WithContext(StoreFromTensors(checkpoint.local_tensors(), local), "checkpoint"));
  } else if (checkpoint.local_tensors_size() != 0) {
    return absl::InvalidArgumentError("checkpoint: local tensors for a model that has none");
  }
  return model;
}

}  // namespace fedrec
