#include "models/item_table.h"

#include <cmath>
#include <cstring>
#include <string>

#include "models/init_util.h"

namespace fedrec {

absl::StatusOr<ItemRepr> ParseItemRepr(const std::string& name) {
  if (name == "id") return ItemRepr::kId;
  if (name == "text") return ItemRepr::kText;
  if (name == "id+text") return ItemRepr::kIdText;
  return absl::InvalidArgumentError("model.item_repr: '" + name +
                                    "' is not one of: id, text, id+text");
}

const char* ItemReprName(ItemRepr repr) {
  switch (repr) {
    case ItemRepr::kText:
      return "text";
    case ItemRepr::kIdText:
      return "id+text";
    case ItemRepr::kId:
      break;
  }
  return "id";
}

absl::StatusOr<layers::AdapterKind> ParseAdapterKind(const std::string& name) {
  if (name == "linear") return layers::AdapterKind::kLinear;
  if (name == "mlp") return layers::AdapterKind::kMlp;
  return absl::InvalidArgumentError("model.adapter: '" + name + "' is not one of: linear, mlp");
}

const char* AdapterKindName(layers::AdapterKind kind) {
  return kind == layers::AdapterKind::kMlp ? "mlp" : "linear";
}

ItemLayout::ItemLayout(const ItemReprOptions& o, uint32_t dim) : repr(o.repr) {
  adapter.kind = o.adapter;
  adapter.in = o.feature_dim;
  adapter.out = dim;
  adapter.hidden = o.adapter == layers::AdapterKind::kMlp
                       ? (o.adapter_hidden > 0 ? o.adapter_hidden : 2 * dim)
                       : 0;
}

absl::Status ValidateItemRepr(const std::string& model, const ItemReprOptions& o,
                              uint32_t num_items, const ItemFeatures* features) {
  const std::string where = model + ": item_repr";
  if (o.repr == ItemRepr::kId) {
    if (features != nullptr) {
      return absl::InvalidArgumentError(where + ": id models take no item features");
    }
    return absl::OkStatus();
  }
  const std::string mode = ItemReprName(o.repr);
  if (o.feature_dim == 0) {
    return absl::InvalidArgumentError(where + ": '" + mode +
                                      "' needs item features (feature_dim is 0)");
  }
  if (features == nullptr) {
    return absl::FailedPreconditionError(
        where + ": '" + mode +
        "' needs item features, and none were given (set data.item_features)");
  }
  if (features->num_items != num_items || features->dim != o.feature_dim) {
    return absl::InvalidArgumentError(where + ": the item features" +
                                      (features->path.empty() ? "" : " (" + features->path + ")") +
                                      " have " + std::to_string(features->num_items) +
                                      " rows of dim " + std::to_string(features->dim) +
                                      ", the model expects " + std::to_string(num_items) +
                                      " rows of dim " + std::to_string(o.feature_dim));
  }
  if (features->values.size() != size_t{features->num_items} * features->dim) {
    return absl::InvalidArgumentError(where + ": the item features hold " +
                                      std::to_string(features->values.size()) +
                                      " values, not num_items * dim");
  }
  return absl::OkStatus();
}

void AddItemTensors(const ItemLayout& layout, uint32_t num_items, uint32_t dim,
                    ParameterStore* store) {
  // Add() cannot fail: names are unique and shapes positive (validated).
  if (layout.has_emb()) (void)store->Add("item_emb", num_items, dim);
  if (!layout.has_adapter()) return;
  for (const layers::AdapterShape::Tensor& t : layout.adapter.tensors()) {
    (void)store->Add("item_adapter." + t.name, t.rows, t.cols);
  }
}

void InitAdapter(const ItemLayout& layout, uint64_t seed, ParameterStore* store) {
  if (!layout.has_adapter()) return;
  const std::vector<layers::AdapterShape::Tensor> tensors = layout.adapter.tensors();
  for (size_t j = 0; j < tensors.size(); ++j) {
    const size_t k = layout.adapter_first() + j;
    TensorView v = store->ViewAt(k);
    const std::string& name = tensors[j].name;
    if (name[0] == 'w') {
      const double limit = std::sqrt(6.0 / static_cast<double>(v.rows + v.cols));
      InitUniform(v, seed, kGlobalStoreIndex, static_cast<uint32_t>(k), limit);
    } else {
      std::fill(v.data, v.data + v.size(), name == "ln.gamma" ? 1.0f : 0.0f);
    }
  }
}

std::shared_ptr<const AdaptedTableCache::Table> AdaptedTableCache::Get(
    const ItemLayout& layout, const ItemFeatures& features, const ParameterStore& store) const {
  const ConstTensorView first = store.ViewAt(layout.adapter_first());
  size_t size = 0;
  for (size_t j = 0; j < layout.adapter.num_tensors(); ++j) {
    size += store.ViewAt(layout.adapter_first() + j).size();
  }
  // The adapter's tensors are adjacent in the store's one buffer.
  return Get(layout.adapter, features, {first.data, size});
}

std::shared_ptr<const AdaptedTableCache::Table> AdaptedTableCache::Get(
    const layers::AdapterShape& shape, const ItemFeatures& features,
    std::span<const float> adapter_params) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (table_ != nullptr && built_from_.size() == adapter_params.size() &&
      std::memcmp(built_from_.data(), adapter_params.data(),
                  adapter_params.size() * sizeof(float)) == 0) {
    return table_;
  }
  built_from_.assign(adapter_params.begin(), adapter_params.end());
  // Tensor pointers into the snapshot, in AdapterShape order.
  std::vector<const float*> p;
  size_t offset = 0;
  for (const layers::AdapterShape::Tensor& t : shape.tensors()) {
    p.push_back(built_from_.data() + offset);
    offset += size_t{t.rows} * t.cols;
  }
  const size_t n = features.num_items, d = shape.out, f = shape.in, h = shape.hidden;
  auto table = std::make_shared<Table>(n * d);
  // Fixed chunks bound the mlp's activations; the result depends only on the
  // parameters and features.
  constexpr size_t kChunk = 1024;
  Table xhat(kChunk * h), rstd(kChunk), act(kChunk * h), s1(kChunk * h), s2(kChunk * h);
  for (size_t begin = 0; begin < n; begin += kChunk) {
    const auto m = static_cast<Eigen::Index>(std::min(kChunk, n - begin));
    const auto eh = static_cast<Eigen::Index>(h);
    layers::AdapterCache<float> cache{layers::MatrixMap<float>(xhat.data(), m, eh), rstd.data(),
                                      layers::MatrixMap<float>(act.data(), m, eh),
                                      layers::MatrixMap<float>(s1.data(), m, eh),
                                      layers::MatrixMap<float>(s2.data(), m, eh)};
    layers::AdapterForward<float>(
        shape, p.data(),
        layers::ConstMatrixMap<float>(features.values.data() + begin * f, m,
                                      static_cast<Eigen::Index>(f)),
        cache,
        layers::MatrixMap<float>(table->data() + begin * d, m, static_cast<Eigen::Index>(d)));
  }
  table_ = std::move(table);
  return table_;
}

const float* ScoringItemRows(const ItemLayout& layout, const ParameterStore& store,
                             const ItemFeatures* features, const AdaptedTableCache* cache,
                             std::shared_ptr<const AdaptedTableCache::Table>* hold) {
  if (!layout.has_adapter()) return store.ViewAt(ItemLayout::kEmb).data;
  *hold = cache->Get(layout, *features, store);
  if (!layout.has_emb()) return (*hold)->data();
  thread_local layers::AlignedVector<float> sum;
  const size_t n = (*hold)->size();
  sum.resize(n);
  const float* emb = store.ViewAt(ItemLayout::kEmb).data;
  for (size_t i = 0; i < n; ++i) sum[i] = (**hold)[i] + emb[i];
  return sum.data();
}

}  // namespace fedrec
