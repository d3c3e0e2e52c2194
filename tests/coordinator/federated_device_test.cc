// Federated training with backend.compute = "cuda" end to end, its device
// programs run on HostTensorOps (SetDeviceTensorOpsForTesting): the GPU
// workers' invariants (the same model for 1, 2 and 4 workers, with secure
// aggregation on or off, one or two local epochs, central DP) and the
// configurations refused up front.
#include <gtest/gtest.h>

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

TEST_F(FederatedDeviceTest, WhatTheDeviceClientsDoNotDoIsRefusedBeforeAnythingIsWritten) {
  struct Refusal {
    std::string key;
    void (*set)(Config&);
  };
  const Refusal refusals[] = {
      {"secagg.scope",
       [](Config& c) {
         c.secagg.enabled = true;
         c.secagg.scope = "client";
       }},
      {"privacy.mode",
       [](Config& c) {
         c.privacy.mode = "distributed";
         c.privacy.noise_multiplier = 1.0;
         c.secagg.enabled = true;
       }},
  };
  for (const Refusal& r : refusals) {
    Config c = DeviceConfig();
    r.set(c);
    const std::string out = (dir_ / ("refused_" + r.key)).string();
    auto summary = RunFederatedTraining(c, {.out_dir = out, .quiet = true});
    ASSERT_FALSE(summary.ok()) << r.key;
    EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument) << summary.status();
    EXPECT_EQ(summary.status().message().rfind(r.key, 0), 0u) << summary.status();
    EXPECT_FALSE(std::filesystem::exists(out + "/summary.json")) << r.key;
  }
}

}  // namespace
}  // namespace fedrec
