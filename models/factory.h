// Builds models from a ModelSpec (the checkpoint's description of a model)
// and moves them in and out of checkpoints. The spec, not the config, is
// what a checkpoint carries, so `fedrec eval --checkpoint` and `recommend`
// need nothing but the file.
#pragma once

#include <memory>

#include "core/config.h"
#include "core/status.h"
#include "models/model.h"
#include "proto/fedrec.pb.h"

namespace fedrec {

// The spec of the model a config asks for, for a dataset of this size.
// InvalidArgument for model types that are not trainable models ("pop").
absl::StatusOr<proto::ModelSpec> ModelSpecFromConfig(const Config& config, uint32_t num_users,
                                                     uint32_t num_items);

// A model with zeroed parameters; call Initialize() or LoadModel's values.
absl::StatusOr<std::unique_ptr<Model>> CreateModel(const proto::ModelSpec& spec);

// The same, on the compute backend backend.compute names: "cpu" builds the
// models above; "cuda" is FailedPrecondition naming the key, since no model
// of this build runs on a GPU yet (models/cuda/ holds only the device
// query). Every trainer builds its models through this one seam.
absl::StatusOr<std::unique_ptr<Model>> CreateModel(const proto::ModelSpec& spec,
                                                   const std::string& compute);

// Writes spec, global and local tensors into `checkpoint`.
void SaveModel(const proto::ModelSpec& spec, const Model& model, proto::Checkpoint* checkpoint);

// Rebuilds the model a checkpoint describes, with its parameters.
// InvalidArgument when the tensors do not match the spec.
absl::StatusOr<std::unique_ptr<Model>> LoadModel(const proto::Checkpoint& checkpoint);

}  // namespace fedrec
