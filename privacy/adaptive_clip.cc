#include "privacy/adaptive_clip.h"

#include <cmath>
#include <limits>
#include <string>

namespace fedrec::privacy {
namespace {

absl::Status Bad(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError("privacy: adaptive_clip: " + field + ": " + what);
}

bool Finite(double x) { return std::isfinite(x); }

}  // namespace

absl::Status ValidateAdaptiveClipConfig(const AdaptiveClipConfig& c) {
  if (!(c.initial_clip > 0) || !Finite(c.initial_clip)) {
    return Bad("initial_clip", "must be finite and > 0");
  }
  if (!(c.target_quantile >= 0 && c.target_quantile <= 1)) {
    return Bad("target_quantile", "must be in [0, 1]");
  }
  if (!(c.learning_rate > 0) || !Finite(c.learning_rate)) {
    return Bad("learning_rate", "must be finite and > 0");
  }
  if (!(c.count_stddev >= 0) || !Finite(c.count_stddev)) {
    return Bad("count_stddev", "must be finite and >= 0");
  }
  if (!(c.expected_clients > 0) || !Finite(c.expected_clients)) {
    return Bad("expected_clients", "must be finite and > 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<double> UpdateNoiseMultiplier(double z, double sigma_b) {
  if (!(z > 0) || !Finite(z)) return Bad("noise_multiplier", "must be finite and > 0");
  if (!(sigma_b > 0) || !Finite(sigma_b)) {
    return Bad("count_stddev", "must be finite and > 0 for a private clipped count");
  }
  const double rest = 1 / (z * z) - 1 / (4 * sigma_b * sigma_b);
  if (!(rest > 0)) {
    return Bad("count_stddev", "the noise multiplier " + std::to_string(z) +
                                   " must be < 2 * count_stddev = " + std::to_string(2 * sigma_b) +
                                   " (raise count_stddev)");
  }
  return 1 / std::sqrt(rest);
}

absl::StatusOr<AdaptiveClip> AdaptiveClip::Create(const AdaptiveClipConfig& config) {
  FEDREC_RETURN_IF_ERROR(ValidateAdaptiveClipConfig(config));
  return AdaptiveClip(config);
}

absl::Status AdaptiveClip::UpdateWithNoise(int64_t unclipped, int64_t participants,
                                           double count_noise) {
  if (participants < 0 || unclipped < 0 || unclipped > participants) {
    return Bad("update", "need 0 <= unclipped <= participants");
  }
  if (!Finite(count_noise)) return Bad("update", "count noise must be finite");
  // B = sum_i (b_i - 1/2) + noise; b_bar = B / m + 1/2.
  const double shifted = static_cast<double>(unclipped) - 0.5 * static_cast<double>(participants);
  const double b_bar = (shifted + count_noise) / config_.expected_clients + 0.5;
  const double next = clip_ * std::exp(-config_.learning_rate * (b_bar - config_.target_quantile));
  if (!(next > 0) || !Finite(next)) {
    return absl::OutOfRangeError("privacy: adaptive_clip: the clip norm left (0, inf)");
  }
  clip_ = next;
  last_fraction_ = b_bar;
  ++rounds_;
  return absl::OkStatus();
}

absl::Status AdaptiveClip::Update(int64_t unclipped, int64_t participants, GaussianNoise& noise,
                                  uint32_t round) {
  FEDREC_ASSIGN_OR_RETURN(const double count_noise,
                          noise.Sample(config_.count_stddev, round, kNoiseStreamClipCount));
  return UpdateWithNoise(unclipped, participants, count_noise);
}

nlohmann::json AdaptiveClip::ToJson() const {
  nlohmann::json j;
  j["clip"] = clip_;
  j["initial_clip"] = config_.initial_clip;
  j["target_quantile"] = config_.target_quantile;
  j["learning_rate"] = config_.learning_rate;
  j["count_stddev"] = config_.count_stddev;
  j["expected_clients"] = config_.expected_clients;
  j["rounds"] = rounds_;
  if (std::isnan(last_fraction_)) {
    j["last_fraction"] = nullptr;
  } else {
    j["last_fraction"] = last_fraction_;
  }
  return j;
}

absl::StatusOr<AdaptiveClip> AdaptiveClip::FromJson(const nlohmann::json& j) {
  auto bad = [](const std::string& what) {
    return absl::InvalidArgumentError("privacy: adaptive_clip: state: " + what);
  };
  if (!j.is_object()) return bad("not a JSON object");
  auto number = [&](const char* key, double* out) -> absl::Status {
    if (!j.contains(key) || !j[key].is_number()) return bad(std::string(key) + ": missing number");
    *out = j[key].get<double>();
    return absl::OkStatus();
  };
  AdaptiveClipConfig c;
  double clip = 0;
  FEDREC_RETURN_IF_ERROR(number("clip", &clip));
  FEDREC_RETURN_IF_ERROR(number("initial_clip", &c.initial_clip));
  FEDREC_RETURN_IF_ERROR(number("target_quantile", &c.target_quantile));
  FEDREC_RETURN_IF_ERROR(number("learning_rate", &c.learning_rate));
  FEDREC_RETURN_IF_ERROR(number("count_stddev", &c.count_stddev));
  FEDREC_RETURN_IF_ERROR(number("expected_clients", &c.expected_clients));
  if (!j.contains("rounds") || !j["rounds"].is_number_integer() || j["rounds"].get<int64_t>() < 0) {
    return bad("rounds: missing non-negative integer");
  }
  FEDREC_RETURN_IF_ERROR(ValidateAdaptiveClipConfig(c));
  if (!(clip > 0) || !Finite(clip)) return bad("clip: must be finite and > 0");
  AdaptiveClip a(c);
  a.clip_ = clip;
  a.rounds_ = j["rounds"].get<int64_t>();
  if (j.contains("last_fraction") && j["last_fraction"].is_number()) {
    a.last_fraction_ = j["last_fraction"].get<double>();
  }
  return a;
}

}  // namespace fedrec::privacy
