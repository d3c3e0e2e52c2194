// How a model represents an item (model.item_repr):
//
//   id       a learned embedding row per item ("item_emb", num_items x d,
//            row-sparse gradients): the classic table.
//   text     Adapter(features[item]): the item's frozen content features
//            (data/item_features.h) mapped into the model's space by a small
//            learned adapter (models/layers/adapter.h). No per-item
//            parameter at all: the global parameters are the adapter plus
//            the dense sequence-model weights, so a federated update (and
//            with it secure aggregation and DP noise) does not grow with the
//            catalogue, and an item never seen in training still gets a
//            meaningful representation.
//   id+text  item_emb[item] + Adapter(features[item]).
//
// The representation is used wherever the model uses its item table: for
// the input items and for the scored (output) items alike.
//
// Parameter layout (part of the checkpoint format): the item tensors lead the
// store, in this order: "item_emb" (id, id+text), then the adapter tensors
// "item_adapter.<name>" (text, id+text; names from AdapterShape::tensors()).
// An id model's layout is exactly what it was before this option existed.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "data/item_features.h"
#include "models/layers/adapter.h"

namespace fedrec {

enum class ItemRepr { kId, kText, kIdText };

// "id", "text", "id+text"; InvalidArgument otherwise.
absl::StatusOr<ItemRepr> ParseItemRepr(const std::string& name);
const char* ItemReprName(ItemRepr repr);
// "linear", "mlp"; InvalidArgument otherwise.
absl::StatusOr<layers::AdapterKind> ParseAdapterKind(const std::string& name);
const char* AdapterKindName(layers::AdapterKind kind);

struct ItemReprOptions {
  ItemRepr repr = ItemRepr::kId;
  layers::AdapterKind adapter = layers::AdapterKind::kLinear;
  uint32_t feature_dim = 0;     // f; must equal the features' dim (text modes)
  uint32_t adapter_hidden = 0;  // mlp hidden width h; 0 = 2 * d
};

// Where the item tensors sit in a model's global store.
struct ItemLayout {
  ItemRepr repr = ItemRepr::kId;
  layers::AdapterShape adapter;  // meaningful unless repr == kId

  ItemLayout() = default;
  ItemLayout(const ItemReprOptions& o, uint32_t dim);

  bool has_emb() const { return repr != ItemRepr::kText; }
  bool has_adapter() const { return repr != ItemRepr::kId; }
  // "item_emb" is tensor 0 when present.
  static constexpr size_t kEmb = 0;
  size_t adapter_first() const { return has_emb() ? 1 : 0; }
  // The number of leading item tensors; the model's own tensors follow.
  size_t num_tensors() const {
    return (has_emb() ? 1 : 0) + (has_adapter() ? adapter.num_tensors() : 0);
  }
};

// InvalidArgument "<model>: item_repr: <why>" for an unusable combination:
// text modes need feature_dim > 0; an id model takes no features.
// FailedPrecondition when a text mode has no features, InvalidArgument when
// their num_items or dim disagree with the model's.
absl::Status ValidateItemRepr(const std::string& model, const ItemReprOptions& options,
                              uint32_t num_items, const ItemFeatures* features);

// Declares the leading item tensors of `layout` in `store` (not finalized).
void AddItemTensors(const ItemLayout& layout, uint32_t num_items, uint32_t dim,
                    ParameterStore* store);

// Glorot-uniform (fan_in = rows, fan_out = cols) for the adapter's weight
// matrices from the streams of models/init_util.h (seed, "init", global
// store, tensor index), LayerNorm gamma 1, biases and beta 0; item_emb
// untouched. (SASRec initialises the adapter with its own loop and streams.)
void InitAdapter(const ItemLayout& layout, uint64_t seed, ParameterStore* store);

}  // namespace fedrec
