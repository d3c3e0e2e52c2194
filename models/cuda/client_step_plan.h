// The host half of one SasRecClientBatch step (sasrec_client_batch.h): every
// local epoch's windows, the rows each client touches and their numbering,
// the segments of the per-client buffers and the runs the encoding adds.
// Pure host code with no TensorOps, so its cost per client is measured on
// its own (bench/client_step_bench.cc, BM_ClientStepPlan).
//
// Per-client buffers hold W dense blocks of `dense_size` floats (window b's
// at b * dense_size; tensor k at dense_offset[k] inside), then every
// window's item rows, d floats each, from rows_offset: window b's rows are
// [row_begin[b], row_begin[b+1]), the item table's first, then (separate
// output) the output table's, each in the order the window first uses the
// item (inputs, targets and negatives by position, epoch after epoch), so
// a client's numbering is a function of the client alone. Make is
// thread-safe (its scratch is per thread); a plan is plain data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/param_store.h"
#include "models/cuda/sasrec_device.h"
#include "models/cuda/tensor_ops.h"
#include "models/model.h"
#include "models/sasrec_options.h"

namespace fedrec::kernels {

// Where the dense tensors (all but the item tables) sit in a window's block.
struct WindowBlockLayout {
  size_t dense_size = 0;
  std::vector<size_t> dense_offset;  // per tensor of the layout (0 for the tables)
  std::vector<bool> is_table;

  static WindowBlockLayout For(const SasRecOptions& o, std::span<const TensorLayout> layout);
};

struct ClientStepPlan {
  struct Row {
    uint32_t table = 0;
    uint32_t item = 0;
  };

  std::vector<StepKey> keys;              // per local epoch
  std::vector<SasRecWindowBatch> epochs;  // per local epoch, W windows each
  size_t real = 0;                        // windows holding a client (the first ones)
  std::vector<uint32_t> window_of;        // client i -> its window, or kNoItem (too short)
  std::vector<Row> rows;                  // every window's rows, window by window
  std::vector<uint64_t> row_begin;        // W + 1
  std::vector<std::vector<uint32_t>> input_rows, scored_rows;  // per epoch (PerWindowSlots)
  size_t rows_offset = 0;                                      // W dense_size
  size_t floats = 0;                                           // a per-client buffer's size
  // Two segments per real window (its dense block, its rows) and the SGD
  // scale of each (1 / the window's positions, as the CPU client's).
  std::vector<uint64_t> bounds;
  std::vector<float> inv;
  std::vector<uint64_t> examples;  // per real window
  std::vector<uint32_t> users;     // per real window
  // What Encode adds: per real window its dense tensors, then its rows.
  std::vector<EncodeRun> runs;

  // `windows` >= clients.size(); `layout` the global parameters'.
  static ClientStepPlan Make(const SasRecOptions& o, std::span<const TensorLayout> layout,
                             const WindowBlockLayout& block, std::span<const UserSequence> clients,
                             uint64_t seed, uint32_t round, size_t local_epochs, size_t windows);
};

}  // namespace fedrec::kernels
