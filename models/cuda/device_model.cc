#include "models/cuda/device_model.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/status.h"
#include "models/cuda/device_ranking.h"

namespace fedrec {

void DeviceModel::Fail(const absl::Status& status) const {
  std::fprintf(stderr, "fedrec: error: backend.compute '%s': %s\n", backend_name_.c_str(),
               EscapeForMessage(std::string(status.message())).c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

std::unique_ptr<kernels::TensorOps> DeviceModel::NewOps() const {
  absl::StatusOr<std::unique_ptr<kernels::TensorOps>> ops = make_ops_();
  if (!ops.ok()) Fail(ops.status());
  return std::move(*ops);
}

absl::StatusOr<std::unique_ptr<RankingSession>> DeviceModel::StartRanking() const {
  if (!kernels::RankableOnDevice(*cpu_)) return std::unique_ptr<RankingSession>();
  return kernels::NewRankingSessionOnDevice(*cpu_, make_ops_);
}

}  // namespace fedrec
