#include "privacy/gaussian.h"

#include <algorithm>
#include <string>

namespace fedrec::privacy {
namespace {

absl::Status CheckStddev(double stddev) {
  if (!(stddev >= 0) || !std::isfinite(stddev)) {
    return InvalidInput("privacy: noise stddev",
                        "must be finite and >= 0 (got " + std::to_string(stddev) + ")");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GaussianNoise> GaussianNoise::Create(std::optional<uint64_t> noise_seed) {
  GaussianNoise noise;
  noise.noise_seed_ = noise_seed;
  if (!noise_seed.has_value()) {
    FEDREC_ASSIGN_OR_RETURN(noise.secure_, SecureUrbg::Create());
  }
  return noise;
}

absl::Status GaussianNoise::Add(std::span<double> values, double stddev, uint32_t round,
                                uint32_t stream) {
  FEDREC_RETURN_IF_ERROR(CheckStddev(stddev));
  if (stddev == 0) return absl::OkStatus();
  if (!pinned()) {
    AddGaussianNoise(secure_, values, stddev);
    return absl::OkStatus();
  }
  const size_t chunks = (values.size() + kValuesPerPinnedChunk - 1) / kValuesPerPinnedChunk;
  if (chunks > size_t{0xFFFFFFFF}) {
    return InvalidInput("privacy: noise", "vector too long for pinned noise streams");
  }
  for (size_t c = 0; c < chunks; ++c) {
    const size_t begin = c * kValuesPerPinnedChunk;
    const size_t len = std::min(kValuesPerPinnedChunk, values.size() - begin);
    PhiloxUrbg g(StreamKey{*noise_seed_, "dp_noise", round, stream, static_cast<uint32_t>(c)});
    AddGaussianNoise(g, values.subspan(begin, len), stddev);
  }
  return absl::OkStatus();
}

absl::StatusOr<double> GaussianNoise::Sample(double stddev, uint32_t round, uint32_t stream) {
  double value = 0;
  FEDREC_RETURN_IF_ERROR(Add(std::span<double>(&value, 1), stddev, round, stream));
  return value;
}

}  // namespace fedrec::privacy
