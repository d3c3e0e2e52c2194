// Federated training with backend.compute = "cuda" end to end, its device
// programs run on HostTensorOps (SetDeviceTensorOpsForTesting): the GPU
// workers' invariants: the same model for 1, 2 and 4 workers, with secure
// aggregation on or off (worker or client scope), one or two local epochs,
// central and distributed DP; and their evaluation on the device.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "models/cuda/compute_backend.h"
#include "tests/coordinator/federated_fixture.h"

namespace fedrec {
namespace {

class FederatedDeviceTest : public FederatedTrainerTest {
 protected:
  void SetUp() override {
    FederatedTrainerTest::SetUp();
    SetDeviceTensorOpsForTesting([] {
      return absl::StatusOr<std::unique_ptr<kernels::TensorOps>>(kernels::NewHostTensorOps());
    });
  }
  void TearDown() override { SetDeviceTensorOpsForTesting({}); }
  // The same model for 1, 2 and 4 workers, secure aggregation on or off.
  void CheckWorkerCountsAndSecagg(const Config& base, const std::string& tag);

  Config DeviceConfig() const {
    Config c = MakeConfig("sasrec");
    c.backend.compute = "cuda";
    c.federation.rounds = 3;
    c.eval.every = 0;
    return c;
  }
};

TEST_F(FederatedDeviceTest, ModelIsTheSameForAnyWorkerCountWithSecureAggregationOnOrOff) {
  // One local epoch (every client's step from the shared parameters) and
  // two (the second from each client's own).
  for (int64_t epochs : {1, 2}) {
    SCOPED_TRACE(epochs);
    Config base = DeviceConfig();
    base.train.local_epochs = epochs;
    CheckWorkerCountsAndSecagg(base, "e" + std::to_string(epochs));
  }
}

void FederatedDeviceTest::CheckWorkerCountsAndSecagg(const Config& base, const std::string& tag) {
  const auto expected = Train(base, tag + "one");
  ASSERT_TRUE(expected.contains("model_sha256"));
  EXPECT_EQ(expected["compute"], "cuda");
  EXPECT_GT(expected["client_updates_this_session"].get<uint64_t>(), 0u);
  for (int workers : {2, 4}) {
    for (bool secagg : {false, true}) {
      Config c = base;
      c.federation.workers = workers;
      c.secagg.enabled = secagg;
      const std::string name = tag + std::to_string(workers) + (secagg ? "secagg" : "");
      EXPECT_EQ(Train(c, name)["model_sha256"], expected["model_sha256"]) << name;
    }
  }
  // The CPU's clients round differently: the device path really ran.
  Config cpu = base;
  cpu.backend.compute = "cpu";
  EXPECT_NE(Train(cpu, tag + "cpu")["model_sha256"], expected["model_sha256"]);
}

TEST_F(FederatedDeviceTest, WorkersRankTheirUsersOnTheDeviceTheSameForAnyWorkerCount) {
  // Count the backends made: each evaluation opens its own ranking session.
  std::atomic<int> made{0};
  SetDeviceTensorOpsForTesting([&made] {
    ++made;
    return absl::StatusOr<std::unique_ptr<kernels::TensorOps>>(kernels::NewHostTensorOps());
  });
  Config base = DeviceConfig();
  const auto quiet = Train(base, "final_only");
  const int final_only = made.exchange(0);
  base.eval.every = 1;
  for (const std::string protocol : {"full", "sampled"}) {
    base.eval.protocol = protocol;
    const auto one = Train(base, "eval1" + protocol);
    EXPECT_GT(made.exchange(0), final_only) << "evaluating every round made no more backends";
    ASSERT_TRUE(one["valid_at_best"].contains("users"));
    EXPECT_GT(one["valid_at_best"]["users"].get<uint64_t>(), 0u);
    EXPECT_EQ(one["model_sha256"], quiet["model_sha256"]);
    Config two = base;
    two.federation.workers = 2;
    const auto split = Train(two, "eval2" + protocol);
    EXPECT_EQ(split["valid_at_best"], one["valid_at_best"]) << protocol;
    EXPECT_EQ(split["test_at_best"], one["test_at_best"]) << protocol;
  }
}

TEST_F(FederatedDeviceTest, CentralDpWithDeviceClientsIsTheSameForAnyWorkerCount) {
  Config base = DpConfig(DeviceConfig());
  base.federation.rounds = 3;
  const auto expected = Train(base, "dp1");
  ASSERT_TRUE(expected.contains("model_sha256"));
  for (int workers : {2, 4}) {
    Config c = base;
    c.federation.workers = workers;
    c.secagg.enabled = workers == 4;
    EXPECT_EQ(Train(c, "dp" + std::to_string(workers))["model_sha256"], expected["model_sha256"])
        << workers;
  }
}

TEST_F(FederatedDeviceTest, ClientScopeSecureAggregationGivesTheWorkerScopeModel) {
  // Each client's own words come from the device (EncodeEach): masked per
  // client, their sum is the worker's sum.
  const Config base = DeviceConfig();
  const auto expected = Train(base, "plain");
  for (int workers : {1, 2, 4}) {
    Config c = base;
    c.federation.workers = workers;
    c.secagg.enabled = true;
    c.secagg.scope = "client";
    const std::string name = "client_scope" + std::to_string(workers);
    EXPECT_EQ(Train(c, name)["model_sha256"], expected["model_sha256"]) << name;
  }
}

TEST_F(FederatedDeviceTest, DistributedDpWithDeviceClientsIsIndependentOfWorkersAndScope) {
  // Each client's scaled delta comes to the host for the DDG; its pinned
  // noise makes the release a function of the clients alone.
  Config base = DeviceConfig();
  base.privacy.mode = "distributed";
  base.privacy.noise_multiplier = 0.8;
  base.privacy.delta = 1e-5;
  base.privacy.noise_seed = 77;
  base.privacy.min_clients = 3;
  base.secagg.enabled = true;
  base.federation.rounds = 3;
  base.federation.sampling_rate = 0.2;
  std::string digest;
  for (const std::string scope : {"worker", "client"}) {
    for (int workers : {1, 3}) {
      Config c = base;
      c.secagg.scope = scope;
      c.federation.workers = workers;
      const std::string name = "ddg_" + scope + std::to_string(workers);
      const auto s = Train(c, name);
      ASSERT_TRUE(s.contains("privacy")) << name;
      EXPECT_EQ(s["privacy"]["released_rounds"], 3) << name;
      if (digest.empty()) {
        digest = s["model_sha256"];
      } else {
        EXPECT_EQ(s["model_sha256"], digest) << name;
      }
    }
  }
  // The device path really ran: the CPU's clients round differently.
  Config cpu = base;
  cpu.backend.compute = "cpu";
  EXPECT_NE(Train(cpu, "ddg_cpu")["model_sha256"], digest);
}

}  // namespace
}  // namespace fedrec
