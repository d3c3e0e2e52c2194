// RoundRules: how a round's updates are encoded and summed, derived from the
// run's configuration identically on every rank (coordinator and workers), so
// that no rank has to be told more than the round number and its clip.
//
// Owns the base fixed-point codec; borrows the distributed-DP mechanism from
// the run's privacy plan (which must outlive it). Immutable after Create;
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "aggregation/fixed_point.h"
#include "aggregation/secure_sum.h"
#include "core/config.h"
#include "core/status.h"
#include "privacy/ddg.h"
#include "worker/client_trainer.h"

namespace fedrec {

class RoundRules {
 public:
  // `max_cohort`: clients of a round at most (privacy::MaxCohort);
  // `model_words`: the global parameters' size; `ddg`: the distributed
  // discrete Gaussian under privacy.mode = "distributed", else nullptr.
  static absl::StatusOr<RoundRules> Create(const Config& config, uint64_t max_cohort,
                                           size_t model_words, const privacy::DdgMechanism* ddg);

  uint64_t seed() const { return seed_; }
  int bits() const { return base_codec_->bits(); }
  double base_clip() const { return base_clip_; }
  const FixedPointCodec& base_codec() const { return *base_codec_; }
  const privacy::DdgMechanism* ddg() const { return ddg_; }
  // Words of each client's encoding and of the round's sum: the model's
  // parameters, or the DDG's padded dimension.
  size_t EncodedLength() const;

  bool secure() const { return secure_; }
  // "worker": one secure-aggregation participant per worker; "client": one
  // per sampled client.
  const std::string& secure_scope() const { return secure_scope_; }
  const secagg::SecaggParams& secagg_params() const { return secagg_; }

  // The fixed-point codec of a round clipped at `clip` (adaptive clipping
  // changes the clip, and with it the scale, every round).
  absl::StatusOr<FixedPointCodec> CodecForClip(double clip) const;
  // How round `round`'s clients encode their updates; `codec` must outlive
  // the result.
  RoundEncoding EncodingFor(uint32_t round, const FixedPointCodec& codec, double clip) const;

 private:
  RoundRules() = default;

  uint64_t seed_ = 0;
  double base_clip_ = 0;
  uint64_t max_cohort_ = 0;
  size_t model_words_ = 0;
  std::optional<FixedPointCodec> base_codec_;
  const privacy::DdgMechanism* ddg_ = nullptr;
  bool secure_ = false;
  std::string secure_scope_;
  secagg::SecaggParams secagg_;
};

}  // namespace fedrec
