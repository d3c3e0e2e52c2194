#include "coordinator/run_summary.h"

#include <gtest/gtest.h>

namespace fedrec {
namespace {

// A round whose clients' losses were NaN or infinite must not read as a
// round of loss 0: the loss is null (NaN) and the count is written.
TEST(RoundMetricsLine, NonFiniteLossIsNeverWrittenAsZero) {
  RoundOutcome out;
  out.stats.uploaded = 4;
  out.stats.loss_fixed = 0;  // the finite losses' sum: none
  out.stats.nonfinite_loss = 4;
  const nlohmann::json line = RoundMetricsLine(3, 1.0, out, PhaseSeconds{}, 0.1, nullptr);
  EXPECT_EQ(line.dump().find("\"loss\":0"), std::string::npos) << line.dump();
  EXPECT_NE(line.dump().find("\"loss\":null"), std::string::npos) << line.dump();
  EXPECT_EQ(line["nonfinite_loss"], 4);

  out.stats.nonfinite_loss = 0;
  out.stats.loss_fixed = uint64_t{3} << 32;  // mean loss 0.75 over 4
  const nlohmann::json healthy = RoundMetricsLine(3, 1.0, out, PhaseSeconds{}, 0.1, nullptr);
  EXPECT_DOUBLE_EQ(healthy["loss"].get<double>(), 0.75);
  EXPECT_FALSE(healthy.contains("nonfinite_loss"));
}

}  // namespace
}  // namespace fedrec
