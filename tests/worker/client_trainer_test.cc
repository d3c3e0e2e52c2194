#include "worker/client_trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "models/factory.h"
#include "tests/testing/fixtures.h"

namespace fedrec {
namespace {

proto::ModelSpec Spec(const std::string& type) {
  Config c = testing::TinyConfig(type);
  c.model.dropout = 0.1;
  c.data.max_len = 12;
  auto spec = ModelSpecFromConfig(c, /*num_users=*/20, /*num_items=*/40, /*feature_dim=*/0);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

struct Fixture {
  explicit Fixture(const std::string& type, double clip = 10.0) : spec(Spec(type)) {
    auto m = CreateModel(spec);
    EXPECT_TRUE(m.ok());
    model = std::move(*m);
    model->Initialize(5);
    options = {.seed = 9, .local_epochs = 2, .local_lr = 0.5, .clip_norm = clip};
    auto c = FixedPointCodec::Derive(32, clip, 16);
    EXPECT_TRUE(c.ok());
    codec = *c;
  }
  std::unique_ptr<ClientTrainer> Trainer() {
    auto t = ClientTrainer::Create(spec, options);
    EXPECT_TRUE(t.ok());
    (*t)->SetGlobal(model->global_params());
    return std::move(*t);
  }
  std::vector<double> Decode(const std::vector<uint64_t>& acc) const {
    std::vector<double> out(acc.size());
    for (size_t i = 0; i < acc.size(); ++i) out[i] = codec.Decode(acc[i]);
    return out;
  }
  proto::ModelSpec spec;
  std::unique_ptr<Model> model;
  ClientTrainingOptions options;
  FixedPointCodec codec = *FixedPointCodec::Derive(32, 1.0, 1);
};

const std::vector<uint32_t> kItems = {3, 7, 7, 12, 30, 1, 5};

TEST(ClientTrainer, UpdateIsIndependentOfTheTrainerAndItsHistory) {
  for (const std::string type : {"sasrec", "gru4rec", "mf_bpr"}) {
    Fixture f(type);
    const size_t n = f.model->global_params().size();
    const UserSequence user{.user = 4, .items = kItems, .ratings = {}};
    const UserSequence other{
        .user = 9, .items = std::span<const uint32_t>(kItems).first(4), .ratings = {}};
    auto a = f.Trainer();
    auto b = f.Trainer();
    std::vector<uint64_t> acc_a(n, 0), acc_b(n, 0), scratch(n, 0);
    ParameterStore local_a, local_b;
    ParameterStore* la = nullptr;
    ParameterStore* lb = nullptr;
    if (f.model->local_params()) {
      local_a = *f.model->local_params();
      local_b = *f.model->local_params();
      la = &local_a;
      lb = &local_b;
    }
    // b first trains another client: the working copy must be restored.
    b->TrainAndEncode(other, 3, f.model->global_params(), lb, f.codec, scratch);
    a->TrainAndEncode(user, 3, f.model->global_params(), la, f.codec, acc_a);
    b->TrainAndEncode(user, 3, f.model->global_params(), lb, f.codec, acc_b);
    EXPECT_EQ(acc_a, acc_b) << type;
    EXPECT_TRUE(a->model().global_params() == f.model->global_params()) << type;
    bool nonzero = false;
    for (uint64_t w : acc_a) nonzero |= w != 0;
    EXPECT_TRUE(nonzero) << type;
    if (la) {
      // The user's local row moved; another user's did not.
      const auto row = local_a.ViewAt(0).Row(4);
      const auto init = f.model->local_params()->ViewAt(0).Row(4);
      EXPECT_FALSE(std::equal(row.begin(), row.end(), init.begin())) << type;
      const auto other_row = local_a.ViewAt(0).Row(9);
      const auto other_init = f.model->local_params()->ViewAt(0).Row(9);
      EXPECT_TRUE(std::equal(other_row.begin(), other_row.end(), other_init.begin())) << type;
    }
  }
}

TEST(ClientTrainer, ClipsToTheNormBound) {
  Fixture f("sasrec", /*clip=*/0.01);
  const size_t n = f.model->global_params().size();
  auto t = f.Trainer();
  std::vector<uint64_t> acc(n, 0);
  const ClientOutcome out = t->TrainAndEncode({.user = 2, .items = kItems, .ratings = {}}, 1,
                                              f.model->global_params(), nullptr, f.codec, acc);
  EXPECT_TRUE(out.clipped);
  EXPECT_GT(out.update_norm, 0.01);
  double norm2 = 0;
  for (double v : f.Decode(acc)) norm2 += v * v;
  // Rounding adds at most resolution per coordinate.
  EXPECT_LE(std::sqrt(norm2), 0.01 + std::sqrt(static_cast<double>(n)) * f.codec.resolution());
  EXPECT_GT(std::sqrt(norm2), 0.009);
}

TEST(ClientTrainer, UnclippedUpdateDecodesToTheParameterDelta) {
  Fixture f("sasrec", /*clip=*/100.0);
  f.options.local_epochs = 1;
  const size_t n = f.model->global_params().size();
  auto t = f.Trainer();
  std::vector<uint64_t> acc(n, 0);
  const ClientOutcome out = t->TrainAndEncode({.user = 2, .items = kItems, .ratings = {}}, 1,
                                              f.model->global_params(), nullptr, f.codec, acc);
  EXPECT_FALSE(out.clipped);
  // Redo the step by hand: delta = -lr * grad / examples.
  auto m = CreateModel(f.spec);
  ASSERT_TRUE(m.ok());
  (*m)->global_params() = f.model->global_params();
  Gradients g = (*m)->NewGlobalGradients();
  auto ws = (*m)->NewWorkspace();
  const UserSequence user{.user = 2, .items = kItems, .ratings = {}};
  const LossSum loss =
      (*m)->ForwardBackward(std::span<const UserSequence>(&user, 1),
                            {.seed = 9, .epoch = 1, .step = 0}, ws.get(), &g, nullptr);
  const auto decoded = f.Decode(acc);
  const auto grad = g.values().Flat();
  double max_err = 0;
  for (size_t i = 0; i < n; ++i) {
    const double expect = -0.5 * grad[i] / static_cast<double>(loss.examples);
    max_err = std::max(max_err, std::abs(decoded[i] - expect));
  }
  EXPECT_LE(max_err, f.codec.resolution() + 1e-6);
}

// Distributed DP: the client's encoding is the DDG of its clipped delta; a
// diverged client still uploads a noise share (of a zero update).
TEST(ClientTrainer, DistributedEncodingDecodesToTheClippedDelta) {
  Fixture f("sasrec", /*clip=*/0.05);
  f.options.noise_seed = 4;
  const size_t n = f.model->global_params().size();
  privacy::DdgParams p;
  p.dim = static_cast<int64_t>(n);
  p.clip = 0.05;
  p.bits = 32;
  p.num_clients = 1;
  p.local_stddev = 1e-7;  // tiny: the decoded sum is the update
  p.gamma =
      *privacy::ChooseDdgGamma(p.clip, privacy::DdgPaddedDim(p.dim), 4, 32, 8.0, p.local_stddev);
  auto ddg = privacy::DdgMechanism::Create(p);
  ASSERT_TRUE(ddg.ok()) << ddg.status();
  RoundEncoding encoding(f.codec);
  encoding.ddg = &*ddg;
  encoding.ddg_rotation_seed = DdgRotationSeed(9, 1);
  const UserSequence user{.user = 2, .items = kItems, .ratings = {}};
  auto t = f.Trainer();
  std::vector<uint64_t> words(static_cast<size_t>(ddg->padded_dim()), 0);
  const ClientOutcome out =
      t->TrainAndEncode(user, 1, f.model->global_params(), nullptr, encoding, words);
  ASSERT_TRUE(out.status.ok()) << out.status;
  EXPECT_TRUE(out.clipped);
  // The same client through the fixed-point path: the two decodings agree.
  std::vector<uint64_t> acc(n, 0);
  f.Trainer()->TrainAndEncode(user, 1, f.model->global_params(), nullptr, f.codec, acc);
  const auto fixed = f.Decode(acc);
  auto decoded = ddg->Decode(words, encoding.ddg_rotation_seed);
  ASSERT_TRUE(decoded.ok());
  double max_err = 0, norm2 = 0;
  for (size_t i = 0; i < n; ++i) {
    max_err = std::max(max_err, std::abs((*decoded)[i] - fixed[i]));
    norm2 += fixed[i] * fixed[i];
  }
  EXPECT_NEAR(std::sqrt(norm2), 0.05, 1e-3);
  EXPECT_LT(max_err, 1e-5);

  // A diverged client (local lr 1e30): status OK, counted as clipped, and
  // its upload decodes to (almost) zero.
  f.options.local_lr = 1e30;
  auto d = f.Trainer();
  std::vector<uint64_t> dwords(static_cast<size_t>(ddg->padded_dim()), 0);
  const ClientOutcome dout =
      d->TrainAndEncode(user, 1, f.model->global_params(), nullptr, encoding, dwords);
  ASSERT_TRUE(dout.status.ok()) << dout.status;
  EXPECT_TRUE(dout.clipped);
  auto zero = ddg->Decode(dwords, encoding.ddg_rotation_seed);
  ASSERT_TRUE(zero.ok());
  double zmax = 0;
  for (double v : *zero) zmax = std::max(zmax, std::abs(v));
  EXPECT_LT(zmax, 1e-5);
}

}  // namespace
}  // namespace fedrec
