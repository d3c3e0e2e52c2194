// Slow checks: each model learns on small synthetic data with a plain local
// SGD loop (one user per step, as a federated client trains), MF-rating beats
// the predict-the-mean baseline, and a warmed-up step does not allocate.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "core/random.h"
#include "data/split.h"
#include "models/evaluation.h"
#include "models/gru4rec.h"
#include "models/mf.h"

// GCC flags free() in a replaced operator delete once it inlines it into
// std::allocator (a false positive: the matching operator new uses malloc).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Counts heap allocations so the steady-state test can check that a
// client's step does not allocate once its workspace has warmed up.
std::atomic<uint64_t> g_allocations{0};

void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace fedrec {
namespace {

// params -= lr * grads over every entry (dense; the models are small).
void SgdStep(ParameterStore* params, const Gradients& grads, float lr) {
  auto p = params->Flat();
  auto g = grads.values().Flat();
  for (size_t k = 0; k < p.size(); ++k) p[k] -= lr * g[k];
}

// One epoch over all users' training parts; returns the mean loss per example.
double Epoch(Model* model, const LeaveOneOutSplit& split, uint32_t epoch, float lr, Workspace* ws,
             Gradients* g, Gradients* l) {
  const Dataset& data = split.data();
  double loss = 0;
  uint64_t examples = 0;
  for (uint32_t u = 0; u < data.num_users(); ++u) {
    const auto items = split.Train(u);
    const UserSequence seq{u, items, data.Ratings(u).first(items.size())};
    g->Clear();
    l->Clear();
    const LossSum s = model->ForwardBackward(std::span<const UserSequence>(&seq, 1),
                                             {.seed = 1, .epoch = epoch, .step = u}, ws, g,
                                             model->local_params() ? l : nullptr);
    loss += s.loss;
    examples += s.examples;
    if (s.examples == 0) continue;
    const float step = lr / static_cast<float>(s.examples);
    SgdStep(&model->global_params(), *g, step);
    if (model->local_params() != nullptr) SgdStep(model->local_params(), *l, step);
  }
  return loss / static_cast<double>(examples);
}

// Users follow a noisy successor chain: after item i comes i + 1 (mod n)
// with probability 0.8, otherwise a random item. Preferences cluster, so MF
// can learn them too (each user walks from a cluster-dependent start).
Dataset ChainData(uint32_t users, uint32_t items, uint32_t len) {
  Dataset d;
  RandomStream s({.seed = 2, .purpose = "synthetic"});
  d.item_ids.resize(items);
  d.offsets.push_back(0);
  for (uint32_t u = 0; u < users; ++u) {
    d.user_ids.push_back(u);
    uint32_t item = (u % 8) * (items / 8) + s.NextBelow(4);
    for (uint32_t t = 0; t < len; ++t) {
      d.items.push_back(item);
      d.ratings.push_back(1.0f);
      d.timestamps.push_back(t);
      item = s.NextBernoulli(0.8) ? (item + 1) % items : s.NextBelow(items);
    }
    d.offsets.push_back(d.items.size());
  }
  return d;
}

void ExpectLearns(Model* model, const LeaveOneOutSplit& split, float lr, int epochs,
                  double max_ratio) {
  auto ws = model->NewWorkspace();
  Gradients g = model->NewGlobalGradients(), l = model->NewLocalGradients();
  const double first = Epoch(model, split, 0, lr, ws.get(), &g, &l);
  double last = first;
  for (int e = 1; e < epochs; ++e) last = Epoch(model, split, e, lr, ws.get(), &g, &l);
  std::printf("%s: loss per example %.4f -> %.4f after %d epochs\n", model->type().c_str(), first,
              last, epochs);
  EXPECT_LT(last, max_ratio * first);
  auto eval = Evaluate(*model, split, {.protocol = EvalProtocol::kSampled, .seed = 3});
  ASSERT_TRUE(eval.ok());
  std::printf("%s: sampled HR@10 %.3f NDCG@10 %.3f (random ~ 0.099)\n", model->type().c_str(),
              eval->Mean().hr, eval->Mean().ndcg);
  EXPECT_GT(eval->Mean().hr, 0.2);
}

TEST(SlowTraining, MfBprLearns) {
  const Dataset data = ChainData(200, 160, 30);
  const LeaveOneOutSplit split(data);
  auto m = MfBprModel::Create({.num_users = 200, .num_items = 160, .dim = 16});
  ASSERT_TRUE(m.ok());
  (*m)->Initialize(1);
  ExpectLearns(m->get(), split, 2.0f, 30, 0.8);
}

TEST(SlowTraining, Gru4RecBprLearns) {
  const Dataset data = ChainData(200, 160, 30);
  const LeaveOneOutSplit split(data);
  auto m = Gru4RecModel::Create({.num_items = 160, .dim = 16, .max_len = 50, .dropout = 0.1f});
  ASSERT_TRUE(m.ok());
  (*m)->Initialize(1);
  ExpectLearns(m->get(), split, 1.0f, 20, 0.8);
}

TEST(SlowTraining, Gru4RecSampledCeLearns) {
  const Dataset data = ChainData(200, 160, 30);
  const LeaveOneOutSplit split(data);
  auto m = Gru4RecModel::Create({.num_items = 160,
                                 .dim = 16,
                                 .layers = 2,
                                 .max_len = 50,
                                 .loss = SeqLoss::kCe,
                                 .negatives = 8});
  ASSERT_TRUE(m.ok());
  (*m)->Initialize(1);
  ExpectLearns(m->get(), split, 1.0f, 20, 0.8);
}

TEST(SlowTraining, Gru4RecFullSoftmaxLearns) {
  const Dataset data = ChainData(200, 160, 30);
  const LeaveOneOutSplit split(data);
  auto m = Gru4RecModel::Create(
      {.num_items = 160, .dim = 16, .max_len = 50, .loss = SeqLoss::kCe, .negatives = 0});
  ASSERT_TRUE(m.ok());
  (*m)->Initialize(1);
  ExpectLearns(m->get(), split, 1.0f, 15, 0.8);
}

TEST(SlowTraining, MfRatingBeatsTheMean) {
  // Rank-3 ratings: r = 3 + u . v + noise (sd 0.3), 60 of 120 items per user.
  const uint32_t users = 300, items = 120, rank = 3, per_user = 60;
  RandomStream s({.seed = 5, .purpose = "lowrank"});
  std::vector<double> uf(users * rank), vf(items * rank);
  for (double& x : uf) x = s.NextNormal() * 0.8;
  for (double& x : vf) x = s.NextNormal() * 0.8;
  Dataset d;
  d.item_ids.resize(items);
  d.offsets.push_back(0);
  for (uint32_t u = 0; u < users; ++u) {
    d.user_ids.push_back(u);
    std::vector<uint8_t> used(items, 0);
    for (uint32_t k = 0; k < per_user; ++k) {
      uint32_t i;
      do {
        i = s.NextBelow(items);
      } while (used[i]);
      used[i] = 1;
      double r = 3 + 0.3 * s.NextNormal();
      for (uint32_t c = 0; c < rank; ++c) r += uf[u * rank + c] * vf[i * rank + c];
      d.items.push_back(i);
      d.ratings.push_back(static_cast<float>(r));
      d.timestamps.push_back(k);
    }
    d.offsets.push_back(d.items.size());
  }
  const LeaveOneOutSplit split(d);
  const float mean = TrainingMeanRating(split);
  auto m = MfRatingModel::Create(
      {.num_users = users, .num_items = items, .dim = 8, .l2 = 0.02f, .global_mean = mean});
  ASSERT_TRUE(m.ok());
  (*m)->Initialize(1);
  auto baseline = EvaluateRatings(**m, split, SplitPart::kTest);  // embeddings ~0: ~the mean
  // The exact predict-the-mean baseline.
  double se = 0;
  uint64_t n = 0;
  for (uint32_t u = 0; u < users; ++u) {
    const double err = mean - d.Ratings(u).back();
    se += err * err;
    ++n;
  }
  const double mean_rmse = std::sqrt(se / static_cast<double>(n));
  auto ws = (*m)->NewWorkspace();
  Gradients g = (*m)->NewGlobalGradients(), l = (*m)->NewLocalGradients();
  double first = 0, last = 0;
  for (int e = 0; e < 60; ++e) {
    last = Epoch(m->get(), split, e, 0.1f, ws.get(), &g, &l);
    if (e == 0) first = last;
  }
  auto test = EvaluateRatings(**m, split, SplitPart::kTest);
  ASSERT_TRUE(test.ok() && baseline.ok());
  std::printf(
      "mf_rating: train MSE %.4f -> %.4f; test RMSE %.4f MAE %.4f vs predict-the-mean RMSE "
      "%.4f (initial model %.4f)\n",
      first, last, test->rmse, test->mae, mean_rmse, baseline->rmse);
  EXPECT_LT(last, 0.5 * first);
  EXPECT_LT(test->rmse, 0.8 * mean_rmse);
}

}  // namespace
}  // namespace fedrec

namespace fedrec {
namespace {

TEST(SlowTraining, SteadyStateStepsDoNotAllocate) {
  std::vector<uint32_t> a = {1, 5, 9, 13, 2, 7, 30, 31, 8}, b = {4, 3, 40, 41, 42};
  std::vector<float> ra(a.size(), 3.0f), rb(b.size(), 4.0f);
  const UserSequence users[2] = {{0, a, ra}, {1, b, rb}};
  auto check = [&](Model* m) {
    m->Initialize(1);
    auto ws = m->NewWorkspace();
    Gradients g = m->NewGlobalGradients(), l = m->NewLocalGradients();
    Gradients* lp = m->local_params() ? &l : nullptr;
    std::vector<float> scores(m->num_items());
    for (uint32_t step = 0; step < 3; ++step) {  // warm up: buffers grow here
      g.Clear();
      l.Clear();
      m->ForwardBackward(users, {.step = step}, ws.get(), &g, lp);
      m->ScoreAll(0, a, scores);
    }
    const uint64_t before = g_allocations.load();
    for (uint32_t step = 3; step < 20; ++step) {
      g.Clear();
      l.Clear();
      m->ForwardBackward(std::span<const UserSequence>(&users[step % 2], 1), {.step = step},
                         ws.get(), &g, lp);
      m->ScoreAll(0, step % 2 ? b : a, scores);
    }
    EXPECT_EQ(g_allocations.load() - before, 0u) << m->type();
  };
  auto gru = Gru4RecModel::Create({.num_items = 50,
                                   .dim = 8,
                                   .layers = 2,
                                   .dropout = 0.2f,
                                   .loss = SeqLoss::kCe,
                                   .negatives = 5});
  check(gru->get());
  auto full =
      Gru4RecModel::Create({.num_items = 50, .dim = 8, .loss = SeqLoss::kCe, .negatives = 0});
  check(full->get());
  auto bpr = MfBprModel::Create({.num_users = 2, .num_items = 50, .dim = 8});
  check(bpr->get());
  auto rating = MfRatingModel::Create({.num_users = 2, .num_items = 50, .dim = 8});
  check(rating->get());
}

}  // namespace
}  // namespace fedrec
