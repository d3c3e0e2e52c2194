// Federated SASRec clients batched on a device (models/cuda/
// sasrec_client_batch.h, Worker's client_ops path), run on HostTensorOps:
// against the CPU ClientTrainer (norms, losses, the decoded sum, with and
// without clipping and weights), bitwise the same sum however the cohort is
// cut into steps or workers, each client's own words and scaled delta (for
// client-scope secure aggregation and distributed DP), and the refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "models/cuda/sasrec_client_batch.h"
#include "models/factory.h"
#include "models/sasrec.h"
#include "tests/testing/fixtures.h"
#include "worker/client_trainer.h"
#include "worker/worker.h"

namespace fedrec {
namespace {

constexpr uint32_t kItems = 40;

std::vector<std::vector<uint32_t>> Sequences() {
  std::vector<std::vector<uint32_t>> seqs;
  for (uint32_t u = 0; u < 11; ++u) {
    std::vector<uint32_t> s;
    const uint32_t len = 3 + (u * 7) % 17;  // 3 .. 19: some beyond max_len
    for (uint32_t t = 0; t < len; ++t) s.push_back((u * 13 + t * 5 + t * t) % kItems);
    seqs.push_back(s);
  }
  return seqs;
}

struct Fixture {
  explicit Fixture(double clip, bool weights = false, bool separate_output = false,
                   int64_t local_epochs = 1)
      : data(testing::SequenceDataset(Sequences(), kItems)), split(data) {
    Config c = testing::TinyConfig("sasrec");
    c.model.dropout = 0.2;
    c.data.max_len = 12;
    c.model.blocks = 2;
    if (separate_output) c.model.output_embedding = "separate";
    auto s = ModelSpecFromConfig(c, data.num_users(), kItems, 0);
    EXPECT_TRUE(s.ok()) << s.status();
    spec = *s;
    auto m = CreateModel(spec);
    EXPECT_TRUE(m.ok());
    model = std::move(*m);
    model->Initialize(5);
    options = {.seed = 9,
               .local_epochs = local_epochs,
               .local_lr = 0.5,
               .clip_norm = clip,
               .weight_by_examples = weights,
               .weight_cap = 8};
    codec = *FixedPointCodec::Derive(64, clip, 64);
    for (uint32_t u = 0; u < data.num_users(); ++u) users.push_back(u);
  }
  UserSequence Client(uint32_t u) const {
    return {.user = u, .items = split.Train(u), .ratings = {}};
  }
  const SasRecOptions& Options() const { return static_cast<SasRecModel&>(*model).options(); }
  std::unique_ptr<kernels::SasRecClientBatch> Batch(size_t windows) const {
    auto b = kernels::SasRecClientBatch::Create(
        Options(), model->global_params(), kernels::NewHostTensorOps(),
        {.seed = options.seed,
         .local_lr = options.local_lr,
         .local_epochs = static_cast<size_t>(options.local_epochs),
         .windows_per_step = windows});
    EXPECT_TRUE(b.ok()) << b.status();
    return std::move(*b);
  }
  // Trains `users` in steps of `per_step` clients on a batch of `windows`.
  std::vector<uint64_t> DeviceSum(size_t windows, size_t per_step,
                                  std::vector<kernels::ClientStepResult>* results = nullptr) {
    auto batch = Batch(windows);
    EXPECT_TRUE(batch->BeginRound(model->global_params(), kRound).ok());
    for (size_t begin = 0; begin < users.size(); begin += per_step) {
      std::vector<UserSequence> step;
      for (size_t i = begin; i < std::min(users.size(), begin + per_step); ++i) {
        step.push_back(Client(users[i]));
      }
      auto r = batch->Train(step);
      EXPECT_TRUE(r.ok()) << r.status();
      std::vector<double> factors;
      for (const auto& x : *r) {
        factors.push_back(
            ClipAndWeigh(x.update_norm, x.loss.examples, options.clip_norm, options).factor);
        if (results != nullptr) results->push_back(x);
      }
      EXPECT_TRUE(batch->Encode(factors, codec.scale(), codec.clip_norm() * codec.scale()).ok());
    }
    std::vector<uint64_t> sum(model->global_params().size(), 0);
    EXPECT_TRUE(batch->AddSumInto(sum).ok());
    return sum;
  }
  std::vector<uint64_t> CpuSum(std::vector<ClientOutcome>* outcomes) {
    auto t = ClientTrainer::Create(spec, options);
    EXPECT_TRUE(t.ok());
    (*t)->SetGlobal(model->global_params());
    std::vector<uint64_t> sum(model->global_params().size(), 0);
    for (uint32_t u : users) {
      outcomes->push_back(
          (*t)->TrainAndEncode(Client(u), kRound, model->global_params(), nullptr, codec, sum));
    }
    return sum;
  }

  static constexpr uint32_t kRound = 3;
  Dataset data;
  LeaveOneOutSplit split;
  proto::ModelSpec spec;
  std::unique_ptr<Model> model;
  ClientTrainingOptions options;
  FixedPointCodec codec = *FixedPointCodec::Derive(64, 1.0, 1);
  std::vector<uint32_t> users;
};

void ExpectSumsAgree(const Fixture& f, const std::vector<uint64_t>& cpu,
                     const std::vector<uint64_t>& device) {
  double largest = 0, worst = 0;
  size_t nonzero = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const double a = f.codec.Decode(cpu[i]), b = f.codec.Decode(device[i]);
    largest = std::max(largest, std::abs(a));
    worst = std::max(worst, std::abs(a - b));
    nonzero += a != 0;
  }
  ASSERT_GT(largest, 0);
  EXPECT_GT(nonzero, 100u);
  EXPECT_LT(worst, 2e-5 * largest) << "largest " << largest;
}

struct Case {
  double clip;
  bool weights;
  bool separate_output;
  int64_t local_epochs;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << "clip=" << c.clip << " weights=" << c.weights << " separate_output=" << c.separate_output
      << " local_epochs=" << c.local_epochs;
}

class DeviceClientsTest : public ::testing::TestWithParam<Case> {};

TEST_P(DeviceClientsTest, MatchesTheCpuClientTrainer) {
  const Case c = GetParam();
  Fixture f(c.clip, c.weights, c.separate_output, c.local_epochs);
  std::vector<ClientOutcome> cpu_out;
  const std::vector<uint64_t> cpu = f.CpuSum(&cpu_out);
  std::vector<kernels::ClientStepResult> dev_out;
  const std::vector<uint64_t> device = f.DeviceSum(4, 4, &dev_out);
  ASSERT_EQ(cpu_out.size(), dev_out.size());
  size_t clipped = 0;
  for (size_t i = 0; i < cpu_out.size(); ++i) {
    EXPECT_EQ(dev_out[i].user, f.users[i]);
    EXPECT_EQ(dev_out[i].loss.examples, cpu_out[i].loss.examples);
    EXPECT_NEAR(dev_out[i].loss.loss, cpu_out[i].loss.loss, 1e-4 * std::abs(cpu_out[i].loss.loss));
    EXPECT_NEAR(dev_out[i].update_norm, cpu_out[i].update_norm, 1e-4 * cpu_out[i].update_norm);
    clipped += cpu_out[i].clipped;
  }
  // The clipping cases clip most clients; the others none.
  if (c.clip < 1) {
    EXPECT_GT(clipped, f.users.size() / 2);
  } else {
    EXPECT_EQ(clipped, 0u);
  }
  ExpectSumsAgree(f, cpu, device);
}

INSTANTIATE_TEST_SUITE_P(Variants, DeviceClientsTest,
                         ::testing::Values(Case{100.0, false, false, 1},
                                           Case{0.05, false, false, 1}, Case{0.05, true, false, 1},
                                           Case{100.0, false, true, 1},
                                           Case{100.0, false, false, 2}, Case{0.05, true, false, 3},
                                           Case{100.0, false, true, 2}));

TEST(DeviceClients, SumIsBitwiseTheSameForAnySplitIntoSteps) {
  Fixture f(0.05, true, false, 2);
  const std::vector<uint64_t> one = f.DeviceSum(16, 16);
  EXPECT_EQ(f.DeviceSum(3, 3), one);
  EXPECT_EQ(f.DeviceSum(5, 2), one);  // short steps padded with empty windows
  // Any order of the clients.
  std::reverse(f.users.begin(), f.users.end());
  EXPECT_EQ(f.DeviceSum(4, 4), one);
}

TEST(DeviceClients, ClientsOfZeroFactorAddNothing) {
  Fixture f(100.0);
  auto batch = f.Batch(4);
  ASSERT_TRUE(batch->BeginRound(f.model->global_params(), 1).ok());
  std::vector<UserSequence> step = {f.Client(0), f.Client(1)};
  ASSERT_TRUE(batch->Train(step).ok());
  ASSERT_TRUE(batch->Encode({{0.0, 0.0}}, f.codec.scale(), 1e30).ok());
  std::vector<uint64_t> sum(f.model->global_params().size(), 0);
  ASSERT_TRUE(batch->AddSumInto(sum).ok());
  EXPECT_TRUE(std::all_of(sum.begin(), sum.end(), [](uint64_t w) { return w == 0; }));
  EXPECT_FALSE(batch->Encode({{1.0}}, f.codec.scale(), 1.0).ok());  // one factor per client
}

// The Worker's device path: the same statistics as its CPU path, a sum that
// agrees with it, and bitwise the same total over one or two workers.
WorkerOptions Options(const Fixture& f, bool device) {
  WorkerOptions o;
  o.client = f.options;
  o.cohort = {.seed = 1, .sampling_rate = 1.0};
  o.threads = 2;
  if (device) {
    o.client_ops = [] {
      return absl::StatusOr<std::unique_ptr<kernels::TensorOps>>(kernels::NewHostTensorOps());
    };
    o.client_windows_per_step = 4;
  }
  return o;
}

TEST(DeviceClients, WorkerOnTheDeviceAgreesWithTheCpuAndAcrossWorkerCounts) {
  Fixture f(0.05, true, false, 2);
  const std::vector<uint32_t>& all = f.users;
  auto round_sum = [&](const std::vector<std::vector<uint32_t>>& parts, bool device,
                       WorkerRoundStats* total) {
    std::vector<uint64_t> sum(f.model->global_params().size(), 0);
    for (const auto& part : parts) {
      auto w = Worker::Create(f.spec, f.split, part, all, f.model->global_params(), nullptr,
                              Options(f, device));
      EXPECT_TRUE(w.ok()) << w.status();
      std::vector<uint64_t> acc(sum.size(), 0);
      const WorkerRoundStats s = (*w)->TrainRound(Fixture::kRound, f.codec, acc);
      EXPECT_TRUE(s.status.ok()) << s.status;
      total->Add(s);
      for (size_t i = 0; i < sum.size(); ++i) sum[i] += acc[i];
    }
    return sum;
  };
  WorkerRoundStats cpu_stats, one_stats, two_stats;
  const auto cpu = round_sum({all}, false, &cpu_stats);
  const auto one = round_sum({all}, true, &one_stats);
  const std::vector<uint32_t> even = {0, 2, 4, 6, 8, 10}, odd = {1, 3, 5, 7, 9};
  const auto two = round_sum({even, odd}, true, &two_stats);
  EXPECT_EQ(one, two);
  ExpectSumsAgree(f, cpu, one);
  for (const WorkerRoundStats* s : {&one_stats, &two_stats}) {
    EXPECT_EQ(s->uploaded, cpu_stats.uploaded);
    EXPECT_EQ(s->clipped, cpu_stats.clipped);
    EXPECT_EQ(s->examples, cpu_stats.examples);
    EXPECT_EQ(s->capped_examples, cpu_stats.capped_examples);
  }
  EXPECT_EQ(one_stats.loss_fixed, two_stats.loss_fixed);
  EXPECT_EQ(one_stats.norm_fixed, two_stats.norm_fixed);
}

TEST(DeviceClients, WorkerRefusesWhatTheDevicePathDoesNotDo) {
  Fixture f(1.0);
  Config c = testing::TinyConfig("gru4rec");
  auto gru = ModelSpecFromConfig(c, f.data.num_users(), kItems, 0);
  ASSERT_TRUE(gru.ok());
  auto model = CreateModel(*gru);
  ASSERT_TRUE(model.ok());
  auto w = Worker::Create(*gru, f.split, f.users, f.users, (*model)->global_params(), nullptr,
                          Options(f, true));
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("SASRec"), std::string::npos) << w.status();
}

// Each client's own words (client-scope secure aggregation) are its share of
// the sum: the uploads add up to the worker's device sum bitwise, and each
// client's words differ from zero only where it trained.
TEST(DeviceClients, EachClientsWordsAddUpToTheSum) {
  Fixture f(0.05, true, false, 2);
  auto w = Worker::Create(f.spec, f.split, f.users, f.users, f.model->global_params(), nullptr,
                          Options(f, true));
  ASSERT_TRUE(w.ok()) << w.status();
  std::vector<uint64_t> sum(f.model->global_params().size(), 0);
  ASSERT_TRUE((*w)->TrainRound(Fixture::kRound, f.codec, sum).status.ok());
  std::vector<uint64_t> acc(sum.size(), 0);
  std::vector<Worker::ClientUpload> uploads;
  const WorkerRoundStats s = (*w)->TrainRound(Fixture::kRound, f.codec, acc, &uploads);
  ASSERT_TRUE(s.status.ok()) << s.status;
  EXPECT_TRUE(std::all_of(acc.begin(), acc.end(), [](uint64_t x) { return x == 0; }));
  ASSERT_EQ(uploads.size(), f.users.size());
  std::vector<uint64_t> total(sum.size(), 0);
  const size_t item_rows = f.model->global_params().ViewAt(0).size();  // item_emb first
  for (const Worker::ClientUpload& u : uploads) {
    ASSERT_EQ(u.words.size(), sum.size());
    for (size_t i = 0; i < total.size(); ++i) total[i] += u.words[i];
    // Rows of items the client never saw stay zero (its rows are sparse).
    size_t touched_rows = 0;
    for (size_t r = 0; r < kItems; ++r) {
      const size_t d = item_rows / kItems;
      touched_rows += std::any_of(u.words.begin() + r * d, u.words.begin() + (r + 1) * d,
                                  [](uint64_t x) { return x != 0; });
    }
    EXPECT_LT(touched_rows, kItems) << u.user;
  }
  EXPECT_EQ(total, sum);
  // And each upload is that client's words: its sum trained alone.
  const std::vector<uint32_t> everyone = f.users;
  for (const size_t i : {size_t{4}, size_t{9}}) {
    f.users = {everyone[i]};
    EXPECT_EQ(uploads[i].words, f.DeviceSum(4, 1)) << everyone[i];
  }
}

// Distributed DP reads each client's scaled delta: it is the delta the
// encoding rounds (within one fixed-point step of each word), zero elsewhere.
TEST(DeviceClients, ScaledDeltasAreWhatTheWordsEncode) {
  Fixture f(0.05);
  auto batch = f.Batch(4);
  ASSERT_TRUE(batch->BeginRound(f.model->global_params(), Fixture::kRound).ok());
  const std::vector<UserSequence> step = {f.Client(0), f.Client(3), f.Client(5), f.Client(6)};
  auto r = batch->Train(step);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<double> factors;
  for (const auto& x : *r) factors.push_back(std::min(1.0, 0.05 / x.update_norm));
  factors[2] = 0;  // a client with nothing to add
  const size_t n = f.model->global_params().size();
  std::vector<std::vector<uint64_t>> words(step.size(), std::vector<uint64_t>(n, 0));
  std::vector<std::span<uint64_t>> spans(words.begin(), words.end());
  const double scale = f.codec.scale();
  ASSERT_TRUE(batch->EncodeEach(factors, scale, f.codec.clip_norm() * scale, spans).ok());
  size_t visited = 0;
  const absl::Status st =
      batch->VisitScaledDeltas(factors, [&](size_t i, std::span<const double> delta) {
        EXPECT_EQ(i, visited++);
        EXPECT_EQ(delta.size(), n);
        double largest = 0;
        for (size_t c = 0; c < n; ++c) {
          const double decoded = static_cast<double>(static_cast<int64_t>(words[i][c])) / scale;
          EXPECT_NEAR(delta[c], decoded, 1.0 / scale) << i << " " << c;
          largest = std::max(largest, std::abs(delta[c]));
        }
        // A client too short to train has no delta either.
        EXPECT_EQ(largest > 0, factors[i] != 0 && (*r)[i].loss.examples > 0) << i;
        return absl::OkStatus();
      });
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(visited, step.size());
}

}  // namespace
}  // namespace fedrec
