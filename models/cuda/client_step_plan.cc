#include "models/cuda/client_step_plan.h"

#include <algorithm>

#include "models/cuda/layer_kernels.h"
#include "models/sasrec_impl.h"

namespace fedrec::kernels {

WindowBlockLayout WindowBlockLayout::For(const SasRecOptions& o,
                                         std::span<const TensorLayout> layout) {
  WindowBlockLayout b;
  const size_t scored = sasrec_internal::ScoredTable(o);
  for (size_t k = 0; k < layout.size(); ++k) {
    const bool table = k == sasrec_internal::kItemEmb || k == scored;
    b.is_table.push_back(table);
    b.dense_offset.push_back(table ? 0 : b.dense_size);
    if (!table) b.dense_size += layout[k].size();
  }
  return b;
}

ClientStepPlan ClientStepPlan::Make(const SasRecOptions& o, std::span<const TensorLayout> layout,
                                    const WindowBlockLayout& block,
                                    std::span<const UserSequence> clients, uint64_t seed,
                                    uint32_t round, size_t local_epochs, size_t windows) {
  ClientStepPlan p;
  const size_t W = windows, E = local_epochs, d = o.dim;
  // Every local epoch's windows (the same inputs and targets, each epoch's
  // own negatives and dropout), padded to W windows of max_len rows.
  for (size_t e = 0; e < E; ++e) {
    p.keys.push_back({.seed = seed, .epoch = round, .step = static_cast<uint32_t>(e)});
    p.epochs.push_back(SasRecWindowBatch::Pack(o, clients, p.keys.back(), o.max_len));
  }
  p.real = p.epochs[0].batch;
  for (SasRecWindowBatch& b : p.epochs) b.AddEmptyWindows(W - p.real);
  const size_t T = p.epochs[0].len, cells = W * T;
  p.window_of.assign(clients.size(), kNoItem);
  for (size_t i = 0, w = 0; i < clients.size(); ++i) {
    if (clients[i].items.size() >= 2) p.window_of[i] = static_cast<uint32_t>(w++);
  }

  const size_t scored = sasrec_internal::ScoredTable(o);
  const bool shared = scored == sasrec_internal::kItemEmb;
  p.row_begin.assign(W + 1, 0);
  p.input_rows.assign(E, std::vector<uint32_t>(cells, kNoItem));
  p.scored_rows.assign(E, std::vector<uint32_t>(2 * cells, kNoItem));
  // Numbering by item-indexed slots, reused across windows: a slot is
  // valid when its stamp is the window's, so nothing is cleared between
  // windows (sorting and a binary search per lookup cost 3x more).
  struct Numbering {
    std::vector<uint32_t> stamp, number;
    std::vector<uint32_t> items;  // this window's distinct items
    uint32_t current = 0;
    void Start(size_t catalogue) {
      if (stamp.size() < catalogue) {
        stamp.assign(catalogue, 0);
        number.assign(catalogue, 0);
        current = 0;
      }
      if (++current == 0) {  // wrapped: old stamps could match again
        std::fill(stamp.begin(), stamp.end(), 0);
        current = 1;
      }
      items.clear();
    }
    void Add(uint32_t item) {
      if (stamp[item] == current) return;
      stamp[item] = current;
      items.push_back(item);
    }
    // Numbers the distinct items from `base` in the order first seen (a
    // function of the client's windows alone).
    void Assign(uint32_t base) {
      for (size_t i = 0; i < items.size(); ++i) number[items[i]] = base + static_cast<uint32_t>(i);
    }
  };
  thread_local Numbering in_table, out_table;
  for (size_t b = 0; b < p.real; ++b) {
    p.row_begin[b] = p.rows.size();
    in_table.Start(o.num_items);
    if (!shared) out_table.Start(o.num_items);
    Numbering& scored_numbers = shared ? in_table : out_table;
    for (const SasRecWindowBatch& epoch : p.epochs) {
      for (size_t t = b * T; t < (b + 1) * T; ++t) {
        if (epoch.inputs[t] == kNoItem) continue;
        in_table.Add(epoch.inputs[t]);
        scored_numbers.Add(epoch.targets[t]);
        scored_numbers.Add(epoch.negatives[t]);
      }
    }
    in_table.Assign(static_cast<uint32_t>(p.rows.size()));
    for (uint32_t it : in_table.items) {
      p.rows.push_back({static_cast<uint32_t>(sasrec_internal::kItemEmb), it});
    }
    if (!shared) {
      out_table.Assign(static_cast<uint32_t>(p.rows.size()));
      for (uint32_t it : out_table.items) p.rows.push_back({static_cast<uint32_t>(scored), it});
    }
    for (size_t e = 0; e < E; ++e) {
      const SasRecWindowBatch& epoch = p.epochs[e];
      for (size_t t = b * T; t < (b + 1) * T; ++t) {
        if (epoch.inputs[t] == kNoItem) continue;
        p.input_rows[e][t] = in_table.number[epoch.inputs[t]];
        p.scored_rows[e][t] = scored_numbers.number[epoch.targets[t]];
        p.scored_rows[e][cells + t] = scored_numbers.number[epoch.negatives[t]];
      }
    }
  }
  // Padding windows have no rows.
  for (size_t b = p.real; b <= W; ++b) p.row_begin[b] = p.rows.size();

  p.rows_offset = W * block.dense_size;
  p.floats = p.rows_offset + p.rows.size() * d;
  for (size_t b = 0; b < p.real; ++b) {
    p.examples.push_back(T - p.epochs[0].first[b]);
    p.users.push_back(p.epochs[0].users[b]);
    p.bounds.insert(p.bounds.end(),
                    {b * block.dense_size, (b + 1) * block.dense_size,
                     p.rows_offset + p.row_begin[b] * d, p.rows_offset + p.row_begin[b + 1] * d});
    // The mean over the step's examples, folded into the update.
    const float mean = 1.0f / static_cast<float>(p.examples.back());
    p.inv.insert(p.inv.end(), {mean, mean});
    for (size_t k = 0; k < layout.size(); ++k) {
      if (block.is_table[k]) continue;
      p.runs.push_back({.src = b * block.dense_size + block.dense_offset[k],
                        .dst = layout[k].offset,
                        .at = layout[k].offset,
                        .len = static_cast<uint32_t>(layout[k].size()),
                        .client = static_cast<uint32_t>(b)});
    }
    for (uint64_t r = p.row_begin[b]; r < p.row_begin[b + 1]; ++r) {
      const uint64_t at = layout[p.rows[r].table].offset + size_t{p.rows[r].item} * d;
      p.runs.push_back({.src = p.rows_offset + r * d,
                        .dst = at,
                        .at = at,
                        .len = static_cast<uint32_t>(d),
                        .client = static_cast<uint32_t>(b)});
    }
  }
  return p;
}

}  // namespace fedrec::kernels
