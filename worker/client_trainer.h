// One simulated client's local training, clipping and fixed-point encoding
// (DESIGN.md, "One round", step 2).
//
// A ClientTrainer belongs to one thread. It owns a private model instance
// whose global parameters are a working copy of the round's global model.
// For each client it:
//   1. runs train.local_epochs SGD steps (lr train.local_lr) on the client's
//      own training sequence, every step's negatives and dropout drawn from
//      the client's keyed streams (seed, ..., round, user, step);
//   2. takes the delta (local - global) on the rows the client touched
//      (embedding tables) and on every dense tensor;
//   3. clips it to L2 norm aggregation.clip_norm, multiplies by the client's
//      weight (1, or its capped example count / cap), and encodes it into
//      Z_(2^bits) with stochastic rounding from (seed, "encode", round, user),
//      adding the words into the caller's accumulator;
//   4. restores the working copy's touched rows from the global model, so the
//      next client starts from the global model again at a cost proportional
//      to what this client touched, not to the catalogue.
// A client's result is a pure function of (global model, its data, seed,
// round): it runs single-threaded and never depends on which worker or thread
// hosts it. Per-user local parameters (MF user embeddings) are trained in
// place in the worker's local store: they never leave the worker.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "aggregation/fixed_point.h"
#include "core/csprng.h"
#include "core/status.h"
#include "data/item_features.h"
#include "models/model.h"
#include "privacy/aes_urbg.h"
#include "privacy/ddg.h"
#include "proto/fedrec.pb.h"

namespace fedrec {

struct ClientTrainingOptions {
  uint64_t seed = 0;
  int64_t local_epochs = 1;
  double local_lr = 0.05;
  double clip_norm = 1.0;
  bool weight_by_examples = false;
  uint64_t weight_cap = 200;  // examples at which a client's weight reaches 1
  // Distributed DP: pins the discrete Gaussian's rounding and noise to the
  // Philox stream (noise_seed, "ddg", round, user) (NOT private); unset, they
  // come from the OS CSPRNG.
  std::optional<uint64_t> noise_seed = {};
};

// How one round's updates are clipped and encoded; the same for every
// client of the round.
struct RoundEncoding {
  // Fixed point at the options' clip norm (no DP, central DP). Implicit so a
  // codec reads as "the plain encoding".
  RoundEncoding(const FixedPointCodec& c) : codec(&c) {}  // NOLINT(google-explicit-constructor)

  const FixedPointCodec* codec;
  // Adaptive clipping: this round's clip norm instead of the options'.
  std::optional<double> clip_norm = {};
  // Distributed DP (privacy.mode = "distributed"): the clipped, weighted
  // update goes through the distributed discrete Gaussian (privacy/ddg.h:
  // rotation, conditional rounding, the client's own noise) into
  // ddg->padded_dim() words mod 2^bits, added into the accumulator mod 2^bits,
  // instead of through the codec. The rotation is the round's, shared by all.
  const privacy::DdgMechanism* ddg = nullptr;
  uint64_t ddg_rotation_seed = 0;
};

// How a client's delta enters the sum: the factor its delta is multiplied
// by before encoding (clipping to clip_norm, then its weight), whether it
// was clipped, and its weight. A diverged client (non-finite norm) gets
// factor 0 and counts as clipped: it contributes nothing.
struct ClipDecision {
  double factor = 1;
  bool clipped = false;
  double weight = 1;
};
ClipDecision ClipAndWeigh(double update_norm, uint64_t examples, double clip_norm,
                          const ClientTrainingOptions& o);

// Distributed DP's encoding of one client's clipped, weighted update
// (`update`: the global layout, in double): rotation, conditional rounding
// and the client's noise (pinned: from (noise_seed, "ddg", round, user);
// else drawn from `urbg`), added into `accumulator` (the padded dimension)
// mod 2^bits. Shared by the CPU clients and the device-batched ones.
absl::Status EncodeDistributedUpdate(std::span<const double> update, uint32_t user, uint32_t round,
                                     const RoundEncoding& encoding,
                                     const std::optional<uint64_t>& noise_seed,
                                     privacy::AesCtrUrbg& urbg, std::span<uint64_t> accumulator);

// The round's public rotation seed (Philox stream (seed, "ddg_rotation", round)).
uint64_t DdgRotationSeed(uint64_t seed, uint32_t round);

struct ClientOutcome {
  LossSum loss;            // of the client's last local step
  double update_norm = 0;  // L2 norm of the delta before clipping
  bool clipped = false;
  double weight = 1;  // the weight the encoded update carries, in (0, 1]
  double seconds_train = 0;
  double seconds_encode = 0;
  absl::Status status;  // not OK: the encoding failed (distributed DP only)
};

class ClientTrainer {
 public:
  // `features`: the items' content features (CreateModel); nullptr for id
  // models.
  static absl::StatusOr<std::unique_ptr<ClientTrainer>> Create(
      const proto::ModelSpec& spec, const ClientTrainingOptions& o,
      std::shared_ptr<const ItemFeatures> features = nullptr);

  // The model the client trains (its global params are the working copy).
  Model& model() { return *model_; }

  // Makes the working copy equal to `global` (call once per round).
  void SetGlobal(const ParameterStore& global);

  // Trains `user`, then adds its encoded, clipped, weighted update into
  // `accumulator` (global-parameter layout, words mod 2^codec.bits(); with
  // distributed DP, the DDG's padded rotated layout).
  // `global` must be what SetGlobal() was given; `local` is the worker's
  // local-parameter store (nullptr for models without one).
  ClientOutcome TrainAndEncode(const UserSequence& user, uint32_t round,
                               const ParameterStore& global, ParameterStore* local,
                               const RoundEncoding& encoding, std::span<uint64_t> accumulator);

 private:
  ClientTrainer() = default;
  // params -= lr * (grads * scale), element by element (the same roundings
  // as scaling the gradients first, in one pass).
  void SgdStep(const Gradients& grads, float lr, float scale, ParameterStore* params, bool track);
  void RestoreTouched(const ParameterStore& global);
  absl::Status EncodeDistributed(const UserSequence& user, uint32_t round, double factor,
                                 const RoundEncoding& encoding, std::span<uint64_t> accumulator);

  ClientTrainingOptions options_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Workspace> workspace_;
  Gradients grads_, local_grads_;
  Gradients delta_;  // marks the union of touched rows; holds local - global
  std::vector<uint32_t> sorted_rows_;
  std::vector<double> dense_;  // distributed DP: the flat update
  // Distributed DP: rounding and noise, an AES-CTR stream keyed once per
  // trainer from the OS CSPRNG (privacy/aes_urbg.h).
  std::optional<privacy::AesCtrUrbg> noise_urbg_;
};

}  // namespace fedrec
