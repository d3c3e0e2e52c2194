// The evaluation protocol's ranking for SASRec and GRU4Rec on a TensorOps
// backend (the GPU): a RankingSession (models/ranking_session.h) over a
// snapshot of the model's parameters.
//
// Per Rank call, with B = max_batch() windows of T = max_len rows (a fixed
// shape, so a user's scores do not depend on the users sharing its call):
//   1. the users' states: the device program's LastStates on their
//      histories (the last max_len items, right-aligned;
//      SasRecDeviceProgram or Gru4RecDeviceProgram);
//   2. each target's score: its row of the scored table dotted with the
//      state (GatheredRowDots);
//   3. sampled queries: the candidates' scores the same way (states
//      gathered per candidate), counted on the host;
//   4. full queries: the states times the scored table in blocks of
//      options.item_block items (one GEMM each); the history's items and the
//      target are set to NaN in the block (they count in neither number),
//      and CountAboveRows counts the rest against the target's score, on
//      the device. Only the counts come back.
// A NaN target ranks below every competitor (its counts are set on the
// host, as models/full_ranking.cc does).
//
// Scores equal the CPU model's up to float rounding: the states come from
// the padded full-length forward (the CPU runs the history alone), and the
// GEMM's dot products round in their own order.
//
// Thread safety: as RankingSession (one thread at a time; its TensorOps is
// bound to the calling thread on each call).
#pragma once

#include <cstdint>
#include <memory>

#include "core/status.h"
#include "models/cuda/tensor_ops.h"
#include "models/model.h"
#include "models/ranking_session.h"

namespace fedrec::kernels {

struct RankingSessionOptions {
  size_t max_batch = 256;    // users per call (B)
  size_t item_block = 8192;  // items per GEMM of the full protocol
};

// Whether `model` (a CPU model: SasRecModel or Gru4RecModel) can be ranked
// on a TensorOps backend: items by id, plain dot-product scores (no
// normalisation or temperature). The loss does not matter (the forward pass
// is the same).
bool RankableOnDevice(const Model& model);

// A session over `model`'s current parameters (copied to the backend
// here), on a TensorOps from `make_ops`. FailedPrecondition when
// !RankableOnDevice(model); the backend's errors as it returns them.
absl::StatusOr<std::unique_ptr<RankingSession>> NewRankingSessionOnDevice(
    const Model& model, const TensorOpsFactory& make_ops, RankingSessionOptions options = {});

}  // namespace fedrec::kernels
