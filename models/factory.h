// Builds models from a ModelSpec (the checkpoint's description of a model)
// and moves them in and out of checkpoints. The spec, not the config, is
// what a checkpoint carries, so `fedrec eval --checkpoint` and `recommend`
// need nothing but the file.
#pragma once

#include <memory>

#include "core/config.h"
#include "core/status.h"
#include "data/item_features.h"
#include "models/model.h"
#include "proto/fedrec.pb.h"

namespace fedrec {

// The spec of the model a config asks for, for a dataset of this size.
// InvalidArgument for model types that are not trainable models ("pop").
// `feature_dim`: the dimension of the dataset's item features (0 when there
// are none); model.item_repr text / id+text with 0 is InvalidArgument. The
// spec's `extra` map then records item_repr, adapter, adapter_hidden (mlp)
// and feature_dim, so that checkpoints carry them (id specs are unchanged).
absl::StatusOr<proto::ModelSpec> ModelSpecFromConfig(const Config& config, uint32_t num_users,
                                                     uint32_t num_items, uint32_t feature_dim);

// A model with zeroed parameters; call Initialize() or LoadModel's values.
// For id models (a text / id+text spec is FailedPrecondition: no features).
absl::StatusOr<std::unique_ptr<Model>> CreateModel(const proto::ModelSpec& spec);

// The same, for backend.compute = "cpu" (the models above). Trainers build
// their models through CreateModelOnBackend (models/cuda/compute_backend.h),
// which also knows "cuda" and calls this for "cpu"; here "cuda" is
// FailedPrecondition.
// `features`: the items' content features, required when the spec's
// item_repr is text or id+text (FailedPrecondition without them,
// InvalidArgument when their num_items or dim disagree with the spec);
// ignored by id models, so a trainer may pass whatever it loaded. Shared
// read-only by the model for its lifetime.
absl::StatusOr<std::unique_ptr<Model>> CreateModel(
    const proto::ModelSpec& spec, const std::string& compute,
    std::shared_ptr<const ItemFeatures> features = nullptr);

// Writes spec, global and local tensors into `checkpoint`.
void SaveModel(const proto::ModelSpec& spec, const Model& model, proto::Checkpoint* checkpoint);

// Rebuilds the model a checkpoint describes, with its parameters.
// InvalidArgument when the tensors do not match the spec. `features` as for
// CreateModel (a text model's checkpoint holds the adapter, not the
// features).
absl::StatusOr<std::unique_ptr<Model>> LoadModel(
    const proto::Checkpoint& checkpoint, std::shared_ptr<const ItemFeatures> features = nullptr);

}  // namespace fedrec
