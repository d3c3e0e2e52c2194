// The item rows a model computes with when items are represented through
// their content features (models/item_repr.h): the compact table of one
// training step and the cached full table of scoring.
//
// Training (ItemRows): a step touches few items (inputs, targets,
// negatives). Their feature rows are gathered into a compact matrix, adapted
// with one GEMM (plus their item_emb rows in id+text), and the model runs its
// usual code on that compact table with remapped ids; afterwards the compact
// rows' gradients go back through the adapter (dW = F_touched^T dRows) and,
// in id+text, into the touched item_emb rows. Full softmax touches every
// item: the table is then the whole adapted catalogue and ids are not
// remapped. Templated on the scalar so that gradient checks run in double.
//
// Scoring (AdaptedTableCache): the adapted table of the whole catalogue,
// built once per parameter state (see the class comment).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <type_traits>
#include <vector>

#include "core/param_store.h"
#include "data/item_features.h"
#include "models/gradients.h"
#include "models/item_repr.h"
#include "models/layers/adapter.h"
#include "models/sequence_losses.h"

namespace fedrec {

// `ids` as rows of a compact table (`row_of[item]`, ItemRows::row_map()),
// written to `rows`; `ids` itself when row_of is null (row = item id).
inline std::span<const uint32_t> MapToRows(std::span<const uint32_t> ids, const uint32_t* row_of,
                                           std::vector<uint32_t>& rows) {
  if (row_of == nullptr) return ids;
  rows.resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) rows[i] = row_of[ids[i]];
  return rows;
}

// The touched items of one step and their adapted rows. Reused across steps
// by one thread (grow-only buffers); not thread-safe.
template <typename S>
class ItemRows {
 public:
  // Starts an empty set over a catalogue of `num_items` items.
  void Begin(uint32_t num_items) {
    for (uint32_t i : ids_) marked_[i] = 0;
    ids_.clear();
    full_ = false;
    num_items_ = num_items;
    if (marked_.size() < num_items) marked_.resize(num_items, 0);
    if (row_of_.size() < num_items) row_of_.resize(num_items, 0);
  }
  void Add(uint32_t item) {
    if (!marked_[item]) {
      marked_[item] = 1;
      ids_.push_back(item);
    }
  }
  void Add(std::span<const uint32_t> items) {
    for (uint32_t i : items) Add(i);
  }
  // Every item (full softmax): row r is item r, no remapping.
  void AddAll() { full_ = true; }

  // Fixes the rows: touched items in increasing id order.
  void Finish() {
    if (full_) {
      for (uint32_t i : ids_) marked_[i] = 0;
      ids_.resize(num_items_);
      for (uint32_t i = 0; i < num_items_; ++i) ids_[i] = i;
      return;
    }
    std::sort(ids_.begin(), ids_.end());
    for (uint32_t r = 0; r < ids_.size(); ++r) row_of_[ids_[r]] = r;
  }

  uint32_t size() const { return static_cast<uint32_t>(ids_.size()); }
  std::span<const uint32_t> ids() const { return ids_; }
  // item -> row, or nullptr when rows are item ids (full).
  const uint32_t* row_map() const { return full_ ? nullptr : row_of_.data(); }

  // table() [size() x d] = Adapter(F[ids]) (+ item_emb[ids]); zeroes
  // dtable(). `params`: the model's global tensors in store order.
  void Forward(const ItemLayout& layout, const ItemFeatures& features, const S* const* params,
               uint32_t dim) {
    const Eigen::Index m = size(), d = dim;
    x_ = Gather(layout, features);
    layers::MatrixMap<S> rows(table_.Get(m * d), m, d);
    layers::AdapterForward<S>(layout.adapter, params + layout.adapter_first(),
                              layers::ConstMatrixMap<S>(x_, m, layout.adapter.in), Cache(layout),
                              rows);
    if (layout.has_emb()) {
      layers::ConstMatrixMap<S> emb(params[ItemLayout::kEmb], num_items_, d);
      for (Eigen::Index r = 0; r < m; ++r) rows.row(r) += emb.row(ids_[r]);
    }
    std::fill(dtable_.Get(m * d), dtable_.Get(m * d) + m * d, S(0));
  }
  const S* table() { return table_.Get(0); }
  S* dtable() { return dtable_.Get(0); }

  // Adds dtable()'s gradient to the adapter's tensors in `grads` (store
  // order) and, in id+text, to the touched item_emb rows (marked in
  // `tracker` when not null, in row order). After Forward, with the same
  // features still alive.
  void Backward(const ItemLayout& layout, const S* const* params, S* const* grads,
                Gradients* tracker, uint32_t dim) {
    const Eigen::Index m = size(), d = dim;
    layers::ConstMatrixMap<S> drows(dtable_.Get(m * d), m, d);
    if (layout.has_emb()) {
      layers::MatrixMap<S> gemb(grads[ItemLayout::kEmb], num_items_, d);
      for (Eigen::Index r = 0; r < m; ++r) {
        if (tracker != nullptr) tracker->MarkRow(ItemLayout::kEmb, ids_[r]);
        gemb.row(ids_[r]) += drows.row(r);
      }
    }
    layers::AdapterBackward<S>(layout.adapter, params + layout.adapter_first(),
                               layers::ConstMatrixMap<S>(x_, m, layout.adapter.in), Cache(layout),
                               drows, grads + layout.adapter_first());
  }

 private:
  // The touched feature rows [m x f]: the features themselves when every
  // item is touched in float, else gathered (and converted) into feats_.
  const S* Gather(const ItemLayout& layout, const ItemFeatures& features) {
    const size_t f = layout.adapter.in;
    if constexpr (std::is_same_v<S, float>) {
      if (full_) return features.values.data();
    }
    S* x = feats_.Get(ids_.size() * f);
    for (size_t r = 0; r < ids_.size(); ++r) {
      std::span<const float> row = features.Row(ids_[r]);
      std::copy(row.begin(), row.end(), x + r * f);
    }
    return x;
  }
  layers::AdapterCache<S> Cache(const ItemLayout& layout) {
    const Eigen::Index m = size(), h = layout.adapter.hidden;
    return {layers::MatrixMap<S>(xhat_.Get(m * h), m, h), rstd_.Get(m),
            layers::MatrixMap<S>(act_.Get(m * h), m, h), layers::MatrixMap<S>(s1_.Get(m * h), m, h),
            layers::MatrixMap<S>(s2_.Get(m * h), m, h)};
  }

  std::vector<uint32_t> ids_;
  std::vector<uint32_t> row_of_;
  std::vector<uint8_t> marked_;
  uint32_t num_items_ = 0;
  bool full_ = false;
  const S* x_ = nullptr;  // Forward's feature rows, for Backward
  seqloss::Buffer<S> feats_, table_, dtable_, xhat_, rstd_, act_, s1_, s2_;
};

// The adapted table of the whole catalogue, Adapter(F) [num_items x d], for
// scoring. Lazily built and cached: Get() compares the adapter parameters it
// is given with those the cached table was built from (bitwise, f*d + ...
// floats, cheap next to scoring a catalogue) and rebuilds on any difference,
// so no trainer needs to say when parameters changed, and every scoring path
// reads the very same table (bitwise agreement of ScoreAll, ScoreCandidates,
// the blocked full ranking and recommend).
//
// Thread-safety: Get() may be called concurrently (a mutex guards the
// cache). A returned table stays valid while the caller holds the pointer;
// the raw rows a model hands out through Scorer::dot_items() stay valid
// until its parameters change or it is destroyed.
class AdaptedTableCache {
 public:
  using Table = layers::AlignedVector<float>;
  std::shared_ptr<const Table> Get(const layers::AdapterShape& shape, const ItemFeatures& features,
                                   std::span<const float> adapter_params) const;
  // The same for the adapter tensors of `layout` in a model's global store.
  std::shared_ptr<const Table> Get(const ItemLayout& layout, const ItemFeatures& features,
                                   const ParameterStore& store) const;

 private:
  mutable std::mutex mu_;
  mutable std::vector<float> built_from_;       // guarded by mu_
  mutable std::shared_ptr<const Table> table_;  // guarded by mu_
};

// The item rows [num_items x d] scoring reads for `layout`: item_emb (id),
// the cached adapted table (text), or their sum (id+text, as the training
// table sums them; written into a thread-local buffer that stays valid until
// the calling thread's next call). `*hold` keeps the cached table alive;
// `cache` and `features` may be null for an id layout. Thread-safe.
const float* ScoringItemRows(const ItemLayout& layout, const ParameterStore& store,
                             const ItemFeatures* features, const AdaptedTableCache* cache,
                             std::shared_ptr<const AdaptedTableCache::Table>* hold);

}  // namespace fedrec
