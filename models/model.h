// The trainable-model interface shared by SASRec, GRU4Rec and MF. Central
// training (mini-batches), federated clients (one user at a time) and
// evaluation (through Scorer) all use only this interface.
//
// Parameters:
//   - global_params(): every aggregated parameter, in ONE ParameterStore (one
//     contiguous float buffer with named views). Federated aggregation sees
//     its Flat() span. The layout (names, shapes, order) is part of the
//     checkpoint format.
//   - local_params(): per-user parameters that never leave the user's worker
//     (the MF user embedding table, one row per user). nullptr when the model
//     has none. In central training they are trained like global ones.
//
// Determinism: ForwardBackward's result is a pure function of the
// parameters, the batch and the StepKey: negatives and dropout masks come
// from RandomStream keys built from StepKey and the user id, so a user's
// gradient does not depend on which thread or worker computes it.
//
// Thread-safety: const methods may run concurrently (evaluation, several
// gradient threads), each with its own Gradients and Workspace.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/param_store.h"
#include "core/status.h"
#include "models/gradients.h"
#include "models/scorer.h"

namespace fedrec {

// One user's training data as a model sees it.
struct UserSequence {
  uint32_t user = 0;                // dense user id (indexes local params)
  std::span<const uint32_t> items;  // training items, time order
  std::span<const float> ratings;   // parallel to items (explicit-rating models)
};

// Names the random streams of one training step: negatives from
// (seed, "train_negatives", epoch, user, step), dropout from
// (seed, "dropout", epoch, user, step).
struct StepKey {
  uint64_t seed = 0;
  uint32_t epoch = 0;  // epoch (central) or round (federated)
  uint32_t step = 0;   // step within the epoch, or local step of a client
};

struct LossSum {
  double loss = 0;        // summed over examples (not averaged)
  uint64_t examples = 0;  // e.g. predicted positions; the trainer divides
};

// Scratch memory a model reuses across calls on one thread. Opaque.
class Workspace {
 public:
  virtual ~Workspace() = default;
};

class Model : public Scorer {
 public:
  // "sasrec", "gru4rec", "mf_bpr", "mf_rating"
  virtual std::string type() const = 0;

  virtual ParameterStore& global_params() = 0;
  virtual const ParameterStore& global_params() const = 0;
  virtual ParameterStore* local_params() { return nullptr; }
  virtual const ParameterStore* local_params() const { return nullptr; }

  // Fresh zeroed gradient buffers shaped like the global / local parameters,
  // with embedding tables marked sparse.
  virtual Gradients NewGlobalGradients() const = 0;
  virtual Gradients NewLocalGradients() const { return {}; }
  virtual std::unique_ptr<Workspace> NewWorkspace() const = 0;

  // Adds d(sum of losses)/d(params) over the training examples the model
  // builds from `batch` (e.g. every position of each sequence with one
  // sampled negative) to `global_grads` (and `local_grads` when the model has
  // local parameters); dropout is active. Returns the summed loss.
  virtual LossSum ForwardBackward(std::span<const UserSequence> batch, const StepKey& key,
                                  Workspace* workspace, Gradients* global_grads,
                                  Gradients* local_grads) const = 0;

  // Initialises parameters from (seed, "init") streams.
  virtual void Initialize(uint64_t seed) = 0;

  // Per-item training counts (num_items entries), for models configured to
  // draw popularity-proportional negatives; others ignore them. Not part of
  // the parameters: the trainer sets them from the data after creation.
  virtual absl::Status SetItemPopularity(std::span<const uint64_t> counts) {
    (void)counts;
    return absl::OkStatus();
  }

  // Items never drawn as training negatives nor counted in a training
  // softmax (one flag per item, 1 = excluded; models/negatives.h), e.g. the
  // cold items of eval.cold_items. Like the popularity counts, set by the
  // trainer after creation and before any training; not thread-safe against
  // training. Models that draw no negatives ignore them. InvalidArgument for
  // a wrong size.
  virtual absl::Status SetNegativeExclusions(std::span<const uint8_t> excluded) {
    (void)excluded;
    return absl::OkStatus();
  }
};

}  // namespace fedrec
