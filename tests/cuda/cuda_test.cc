#include <gtest/gtest.h>

#include "models/cuda/device.h"
#include "tests/cuda/skip_without_gpu.h"

namespace fedrec {
namespace {

TEST(Cuda, QueryNeverFailsWithoutADevice) {
  auto devices = QueryCudaDevices();
  ASSERT_TRUE(devices.ok()) << devices.status();
}

TEST(Cuda, DeviceInfoIsPlausible) {
  auto devices = QueryCudaDevices();
  FEDREC_SKIP_WITHOUT_GPU(devices);
  for (const CudaDeviceInfo& d : *devices) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_GE(d.compute_capability_major, 5);
    EXPECT_GT(d.total_memory_bytes, uint64_t{1} << 30);
    EXPECT_GT(d.multiprocessor_count, 0);
    std::printf("device %d: %s, sm_%s, %llu MiB, %d SMs\n", d.index, d.name.c_str(),
                d.ComputeCapability().c_str(),
                static_cast<unsigned long long>(d.total_memory_bytes >> 20),
                d.multiprocessor_count);
  }
}

TEST(Cuda, CublasHandleLifecycle) {
  auto devices = QueryCudaDevices();
  FEDREC_SKIP_WITHOUT_GPU(devices);
  auto handle = CublasHandle::Create(0);
  ASSERT_TRUE(handle.ok()) << handle.status();
  EXPECT_NE(handle->get(), nullptr);
  EXPECT_TRUE(handle->SetStream(nullptr).ok());
  CublasHandle moved = std::move(*handle);
  EXPECT_NE(moved.get(), nullptr);
  EXPECT_EQ(handle->get(), nullptr);
  EXPECT_EQ(handle->SetStream(nullptr).code(), absl::StatusCode::kFailedPrecondition);
  auto missing = CublasHandle::Create(static_cast<int>(devices->size()));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Cuda, SgemmMatchesCpu) {
  auto devices = QueryCudaDevices();
  FEDREC_SKIP_WITHOUT_GPU(devices);
  for (int n : {1, 7, 64, 257}) {
    absl::Status s = CudaSgemmCheck(n);
    EXPECT_TRUE(s.ok()) << "n=" << n << ": " << s;
  }
  EXPECT_EQ(CudaSgemmCheck(0).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Cuda, NoDeviceMeansFailedPrecondition) {
  auto devices = QueryCudaDevices();
  ASSERT_TRUE(devices.ok());
  if (!devices->empty()) GTEST_SKIP() << "a device is present";
  EXPECT_EQ(CudaSgemmCheck(4).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CublasHandle::Create(0).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace fedrec
