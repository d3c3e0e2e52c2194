#include "content/bert_encoder.h"

#include <cmath>
#include <unsupported/Eigen/SpecialFunctions>

#include "models/layers/linear.h"

namespace fedrec::content {
namespace {

using layers::ConstMatrixMap;
using layers::ConstRowVectorMap;
using layers::MatrixMap;
using Matrix = BertEncoder::Matrix;
using RowVector = BertEncoder::RowVector;

// Looks tensors up by their BertModel name, with the file's prefix.
class TensorSource {
 public:
  TensorSource(const SafetensorsFile& file, std::string prefix, std::string name)
      : file_(file), prefix_(std::move(prefix)), name_(std::move(name)) {}

  absl::StatusOr<const Array*> Get(const std::string& key,
                                   const std::vector<uint64_t>& shape) const {
    auto it = file_.tensors.find(prefix_ + key);
    if (it == file_.tensors.end()) {
      return absl::InvalidArgumentError(name_ + ": no tensor " + prefix_ + key);
    }
    const Array& a = it->second;
    if (a.kind != Array::Kind::kFloat || a.shape != shape) {
      std::string want, got;
      for (uint64_t d : shape) want += (want.empty() ? "" : ",") + std::to_string(d);
      for (uint64_t d : a.shape) got += (got.empty() ? "" : ",") + std::to_string(d);
      return absl::InvalidArgumentError(name_ + ": tensor " + prefix_ + key + " has shape [" + got +
                                        "] (" + a.dtype + "), expected float [" + want + "]");
    }
    return &a;
  }
  // A PyTorch Linear weight [out x in], returned as [in x out].
  absl::StatusOr<Matrix> Linear(const std::string& key, size_t in, size_t out) const {
    FEDREC_ASSIGN_OR_RETURN(const Array* a, Get(key + ".weight", {out, in}));
    Matrix m = ConstMatrixMap<float>(a->floats.data(), out, in).transpose();
    return m;
  }
  absl::StatusOr<RowVector> Vector(const std::string& key, size_t n) const {
    FEDREC_ASSIGN_OR_RETURN(const Array* a, Get(key, {n}));
    return RowVector(ConstRowVectorMap<float>(a->floats.data(), n));
  }
  absl::StatusOr<Matrix> Table(const std::string& key, size_t cols) const {
    auto it = file_.tensors.find(prefix_ + key);
    if (it == file_.tensors.end() || it->second.shape.size() != 2) {
      return absl::InvalidArgumentError(name_ + ": no 2-d tensor " + prefix_ + key);
    }
    const uint64_t rows = it->second.shape[0];
    FEDREC_ASSIGN_OR_RETURN(const Array* a, Get(key, {rows, cols}));
    return Matrix(ConstMatrixMap<float>(a->floats.data(), rows, cols));
  }
  bool Has(const std::string& key) const { return file_.tensors.contains(prefix_ + key); }

 private:
  const SafetensorsFile& file_;
  const std::string prefix_;
  const std::string name_;
};

// y = LN(y) row-wise, as torch.nn.LayerNorm (biased variance).
void LayerNormInPlace(MatrixMap<float> y, const RowVector& g, const RowVector& b, float eps) {
  const Eigen::Index d = y.cols();
  for (Eigen::Index i = 0; i < y.rows(); ++i) {
    auto row = y.row(i);
    const float mean = layers::AddressFreeSum(row) / static_cast<float>(d);
    row.array() -= mean;
    const float var = layers::AddressFreeSum(row.array().square().matrix()) / static_cast<float>(d);
    row *= 1.0f / std::sqrt(var + eps);
    row = row.cwiseProduct(g) + b;
  }
}

float* Grow(layers::AlignedVector<float>* v, size_t n) {
  if (v->size() < n) v->resize(n);
  return v->data();
}

}  // namespace

absl::StatusOr<BertEncoder> BertEncoder::FromSafetensors(const SafetensorsFile& file,
                                                         const BertLoadOptions& options,
                                                         const std::string& name) {
  std::string prefix;
  if (!file.tensors.contains("embeddings.word_embeddings.weight")) {
    if (!file.tensors.contains("bert.embeddings.word_embeddings.weight")) {
      return absl::InvalidArgumentError(
          name + ": no embeddings.word_embeddings.weight (not a BERT model?)");
    }
    prefix = "bert.";
  }
  TensorSource src(file, prefix, name);
  BertEncoder e;
  BertConfig& c = e.config_;
  const Array& word = file.tensors.at(prefix + "embeddings.word_embeddings.weight");
  if (word.shape.size() != 2 || word.shape[0] == 0 || word.shape[1] == 0) {
    return absl::InvalidArgumentError(name + ": word embeddings are not a non-empty matrix");
  }
  c.vocab_size = word.shape[0];
  c.hidden = word.shape[1];
  const size_t h = c.hidden;
  c.heads = options.heads != 0 ? options.heads : std::max<size_t>(1, h / 32);
  if (h % c.heads != 0) {
    return absl::InvalidArgumentError(name + ": " + std::to_string(c.heads) +
                                      " heads do not divide the hidden size " + std::to_string(h));
  }
  c.layer_norm_eps = options.layer_norm_eps;
  while (src.Has("encoder.layer." + std::to_string(c.layers) + ".attention.self.query.weight")) {
    ++c.layers;
  }
  if (c.layers == 0) return absl::InvalidArgumentError(name + ": no encoder.layer.0");
  {
    auto it = file.tensors.find(prefix + "encoder.layer.0.intermediate.dense.weight");
    if (it == file.tensors.end() || it->second.shape.size() != 2) {
      return absl::InvalidArgumentError(name + ": no encoder.layer.0.intermediate.dense.weight");
    }
    c.intermediate = it->second.shape[0];
  }
  FEDREC_ASSIGN_OR_RETURN(e.word_, src.Table("embeddings.word_embeddings.weight", h));
  FEDREC_ASSIGN_OR_RETURN(e.position_, src.Table("embeddings.position_embeddings.weight", h));
  FEDREC_ASSIGN_OR_RETURN(e.token_type_, src.Table("embeddings.token_type_embeddings.weight", h));
  c.max_positions = e.position_.rows();
  c.type_vocab_size = e.token_type_.rows();
  if (c.max_positions == 0 || c.type_vocab_size == 0) {
    return absl::InvalidArgumentError(name + ": empty position or token type embeddings");
  }
  FEDREC_ASSIGN_OR_RETURN(e.emb_ln_g_, src.Vector("embeddings.LayerNorm.weight", h));
  FEDREC_ASSIGN_OR_RETURN(e.emb_ln_b_, src.Vector("embeddings.LayerNorm.bias", h));
  for (size_t i = 0; i < c.layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    Layer l;
    l.qkv_w.resize(h, 3 * h);
    l.qkv_b.resize(3 * h);
    const char* parts[] = {"query", "key", "value"};
    for (int k = 0; k < 3; ++k) {
      const std::string q = p + "attention.self." + parts[k];
      FEDREC_ASSIGN_OR_RETURN(Matrix w, src.Linear(q, h, h));
      FEDREC_ASSIGN_OR_RETURN(RowVector b, src.Vector(q + ".bias", h));
      l.qkv_w.middleCols(k * h, h) = w;
      l.qkv_b.segment(k * h, h) = b;
    }
    FEDREC_ASSIGN_OR_RETURN(l.out_w, src.Linear(p + "attention.output.dense", h, h));
    FEDREC_ASSIGN_OR_RETURN(l.out_b, src.Vector(p + "attention.output.dense.bias", h));
    FEDREC_ASSIGN_OR_RETURN(l.ln1_g, src.Vector(p + "attention.output.LayerNorm.weight", h));
    FEDREC_ASSIGN_OR_RETURN(l.ln1_b, src.Vector(p + "attention.output.LayerNorm.bias", h));
    FEDREC_ASSIGN_OR_RETURN(l.inter_w, src.Linear(p + "intermediate.dense", h, c.intermediate));
    FEDREC_ASSIGN_OR_RETURN(l.inter_b, src.Vector(p + "intermediate.dense.bias", c.intermediate));
    FEDREC_ASSIGN_OR_RETURN(l.output_w, src.Linear(p + "output.dense", c.intermediate, h));
    FEDREC_ASSIGN_OR_RETURN(l.output_b, src.Vector(p + "output.dense.bias", h));
    FEDREC_ASSIGN_OR_RETURN(l.ln2_g, src.Vector(p + "output.LayerNorm.weight", h));
    FEDREC_ASSIGN_OR_RETURN(l.ln2_b, src.Vector(p + "output.LayerNorm.bias", h));
    e.layers_.push_back(std::move(l));
  }
  return e;
}

absl::StatusOr<BertEncoder> BertEncoder::Load(const std::string& path,
                                              const BertLoadOptions& options) {
  FEDREC_ASSIGN_OR_RETURN(SafetensorsFile file, ReadSafetensors(path));
  return FromSafetensors(file, options, path);
}

absl::Status BertEncoder::Encode(std::span<const std::vector<int32_t>> sequences, BertWorkspace* ws,
                                 std::span<float> out) const {
  const size_t h = config_.hidden;
  const size_t nh = config_.heads;
  const size_t dh = h / nh;
  if (out.size() != sequences.size() * h) {
    return absl::InvalidArgumentError("Encode: output size does not match the batch");
  }
  size_t rows = 0, longest = 0;
  for (const auto& s : sequences) {
    if (s.empty() || s.size() > config_.max_positions) {
      return absl::InvalidArgumentError("Encode: a sequence of " + std::to_string(s.size()) +
                                        " tokens (1.." + std::to_string(config_.max_positions) +
                                        " allowed)");
    }
    for (int32_t id : s) {
      if (id < 0 || static_cast<size_t>(id) >= config_.vocab_size) {
        return absl::InvalidArgumentError("Encode: token id " + std::to_string(id) +
                                          " outside the vocab");
      }
    }
    rows += s.size();
    longest = std::max(longest, s.size());
  }
  if (rows == 0) return absl::OkStatus();
  const auto n = static_cast<Eigen::Index>(rows);
  const auto H = static_cast<Eigen::Index>(h);
  MatrixMap<float> x(Grow(&ws->x, rows * h), n, H);
  MatrixMap<float> qkv(Grow(&ws->qkv, rows * 3 * h), n, 3 * H);
  MatrixMap<float> ctx(Grow(&ws->ctx, rows * h), n, H);
  MatrixMap<float> tmp(Grow(&ws->tmp, rows * h), n, H);
  MatrixMap<float> inter(Grow(&ws->inter, rows * config_.intermediate), n,
                         static_cast<Eigen::Index>(config_.intermediate));
  float* scores_buf = Grow(&ws->scores, longest * longest);

  // Embeddings (token type 0 everywhere: single sentences).
  Eigen::Index r = 0;
  for (const auto& s : sequences) {
    for (size_t p = 0; p < s.size(); ++p, ++r) {
      x.row(r) = word_.row(s[p]) + position_.row(p) + token_type_.row(0);
    }
  }
  LayerNormInPlace(x, emb_ln_g_, emb_ln_b_, config_.layer_norm_eps);

  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  for (const Layer& l : layers_) {
    layers::LinearForward<float>(layers::AsConst(x),
                                 ConstMatrixMap<float>(l.qkv_w.data(), H, 3 * H),
                                 ConstRowVectorMap<float>(l.qkv_b.data(), 3 * H), qkv);
    Eigen::Index offset = 0;
    for (const auto& s : sequences) {
      const auto len = static_cast<Eigen::Index>(s.size());
      MatrixMap<float> scores(scores_buf, len, len);
      for (size_t head = 0; head < nh; ++head) {
        const auto c0 = static_cast<Eigen::Index>(head * dh);
        const auto D = static_cast<Eigen::Index>(dh);
        auto q = qkv.block(offset, c0, len, D);
        auto k = qkv.block(offset, H + c0, len, D);
        auto v = qkv.block(offset, 2 * H + c0, len, D);
        scores.noalias() = q * k.transpose();
        for (Eigen::Index i = 0; i < len; ++i) {
          auto row = scores.row(i);
          row *= scale;
          const float m = row.maxCoeff();
          for (Eigen::Index j = 0; j < len; ++j) row(j) = std::exp(row(j) - m);
          row *= 1.0f / layers::AddressFreeSum(row);
        }
        ctx.block(offset, c0, len, D).noalias() = scores * v;
      }
      offset += len;
    }
    layers::LinearForward<float>(layers::AsConst(ctx), ConstMatrixMap<float>(l.out_w.data(), H, H),
                                 ConstRowVectorMap<float>(l.out_b.data(), H), tmp);
    x += tmp;
    LayerNormInPlace(x, l.ln1_g, l.ln1_b, config_.layer_norm_eps);
    const auto I = static_cast<Eigen::Index>(config_.intermediate);
    layers::LinearForward<float>(layers::AsConst(x), ConstMatrixMap<float>(l.inter_w.data(), H, I),
                                 ConstRowVectorMap<float>(l.inter_b.data(), I), inter);
    // GELU, erf form, vectorised (Eigen's float erf: a rational
    // approximation within a few ulp) over the whole buffer, which starts
    // aligned, so that no element takes a scalar path that depends on where
    // the batch lies in memory.
    {
      Eigen::Map<Eigen::ArrayXf> u(inter.data(), n * I);
      u = 0.5f * u * (1.0f + (u * static_cast<float>(M_SQRT1_2)).erf());
    }
    layers::LinearForward<float>(layers::AsConst(inter),
                                 ConstMatrixMap<float>(l.output_w.data(), I, H),
                                 ConstRowVectorMap<float>(l.output_b.data(), H), tmp);
    x += tmp;
    LayerNormInPlace(x, l.ln2_g, l.ln2_b, config_.layer_norm_eps);
  }

  // Mean pooling over each sequence's positions, then L2 normalisation
  // (torch.nn.functional.normalize: x / max(|x|, 1e-12)).
  Eigen::Index offset = 0;
  for (size_t i = 0; i < sequences.size(); ++i) {
    const auto len = static_cast<Eigen::Index>(sequences[i].size());
    Eigen::Map<Eigen::Matrix<float, 1, Eigen::Dynamic>> o(out.data() + i * h, H);
    o.setZero();
    for (Eigen::Index t = 0; t < len; ++t) o += x.row(offset + t);
    o /= static_cast<float>(len);
    const float norm = std::sqrt(layers::AddressFreeSum(o.array().square().matrix()));
    o /= std::max(norm, 1e-12f);
    offset += len;
  }
  return absl::OkStatus();
}

}  // namespace fedrec::content
