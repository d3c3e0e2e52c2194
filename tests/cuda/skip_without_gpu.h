// FEDREC_SKIP_WITHOUT_GPU(devices): skips the calling test when this machine
// has no CUDA device (`devices` is a QueryCudaDevices() result).
#pragma once

#include <gtest/gtest.h>

#include "models/cuda/device.h"

#define FEDREC_SKIP_WITHOUT_GPU(devices)                              \
  do {                                                                \
    ASSERT_TRUE((devices).ok()) << (devices).status();                \
    if ((devices)->empty()) GTEST_SKIP() << "no CUDA device visible"; \
  } while (0)
