// Training sanity check (label slow): SASRec learns a synthetic sequential
// pattern with a small Adam written here (the project's optimizers live
// elsewhere). The loss must fall well below its starting value and the model
// must predict the next item of held-out sequences.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/random.h"
#include "models/sasrec.h"

namespace fedrec {
namespace {

// Adam (Kingma & Ba) over the flat parameter buffer, dense.
class Adam {
 public:
  Adam(size_t n, double lr) : lr_(lr), m_(n, 0.0), v_(n, 0.0) {}
  void Step(std::span<float> params, std::span<const float> grads, double scale) {
    ++t_;
    const double b1 = 0.9, b2 = 0.98, eps = 1e-8;
    const double c1 = 1 - std::pow(b1, t_), c2 = 1 - std::pow(b2, t_);
    for (size_t i = 0; i < params.size(); ++i) {
      const double g = grads[i] * scale;
      m_[i] = b1 * m_[i] + (1 - b1) * g;
      v_[i] = b2 * v_[i] + (1 - b2) * g * g;
      params[i] -= static_cast<float>(lr_ * (m_[i] / c1) / (std::sqrt(v_[i] / c2) + eps));
    }
  }

 private:
  double lr_;
  int t_ = 0;
  std::vector<double> m_, v_;
};

// item_{t+1} = (3 * item_t + 1) mod 60 from a random start.
std::vector<uint32_t> PatternSequence(RandomStream& s, uint32_t items) {
  std::vector<uint32_t> seq(12 + s.NextBelow(20));
  seq[0] = s.NextBelow(items);
  for (size_t t = 1; t < seq.size(); ++t) seq[t] = (3 * seq[t - 1] + 1) % items;
  return seq;
}

TEST(SasRecTraining, LossDecreasesAndNextItemIsLearned) {
  SasRecOptions o;
  o.num_items = 60;
  o.dim = 16;
  o.blocks = 2;
  o.heads = 1;
  o.max_len = 20;
  o.dropout = 0.1;
  auto created = SasRecModel::Create(o);
  ASSERT_TRUE(created.ok());
  SasRecModel& model = **created;
  model.Initialize(3);
  RandomStream data_stream({1, "train_data", 0, 0, 0});
  std::vector<std::vector<uint32_t>> seqs(256);
  for (auto& s : seqs) s = PatternSequence(data_stream, o.num_items);

  Adam adam(model.global_params().size(), 5e-3);
  Gradients grads = model.NewGlobalGradients();
  auto ws = model.NewWorkspace();
  RandomStream pick({1, "batches", 0, 0, 0});
  double first = 0, last = 0;
  const int steps = 400;
  for (int step = 0; step < steps; ++step) {
    std::vector<UserSequence> batch;
    for (int b = 0; b < 32; ++b) {
      const uint32_t u = pick.NextBelow(static_cast<uint32_t>(seqs.size()));
      batch.push_back({u, seqs[u], {}});
    }
    grads.Clear();
    const LossSum l = model.ForwardBackward(batch, StepKey{7, 0, static_cast<uint32_t>(step)},
                                            ws.get(), &grads, nullptr);
    const double mean = l.loss / static_cast<double>(l.examples);
    if (step < 5) first += mean / 5;
    if (step >= steps - 5) last += mean / 5;
    adam.Step(model.global_params().Flat(), grads.values().Flat(),
              1.0 / static_cast<double>(l.examples));
  }
  EXPECT_LT(last, 0.3 * first) << "first " << first << " last " << last;
  // Next-item prediction on fresh sequences: the target ranks in the top 5.
  RandomStream eval_stream({2, "eval_data", 0, 0, 0});
  int hits = 0;
  const int n = 100;
  for (int i = 0; i < n; ++i) {
    std::vector<uint32_t> s = PatternSequence(eval_stream, o.num_items);
    std::vector<float> scores(o.num_items);
    model.ScoreAll(0, std::span<const uint32_t>(s).first(s.size() - 1), scores);
    uint32_t rank = 0;
    for (uint32_t j = 0; j < o.num_items; ++j) rank += scores[j] > scores[s.back()];
    hits += rank < 5;
  }
  // HR@5 among 60 items (chance: 8%).
  EXPECT_GT(hits, 80);
}

}  // namespace
}  // namespace fedrec
