#include "worker/round_rules.h"

namespace fedrec {

absl::StatusOr<RoundRules> RoundRules::Create(const Config& config, uint64_t max_cohort,
                                              size_t model_words,
                                              const privacy::DdgMechanism* ddg) {
  RoundRules r;
  r.seed_ = config.seed;
  r.base_clip_ = config.aggregation.clip_norm;
  r.max_cohort_ = max_cohort;
  r.model_words_ = model_words;
  r.ddg_ = ddg;
  FEDREC_ASSIGN_OR_RETURN(r.base_codec_,
                          FixedPointCodec::Derive(static_cast<int>(config.aggregation.bits),
                                                  config.aggregation.clip_norm, max_cohort));
  r.secure_ = config.secagg.enabled;
  r.secure_scope_ = config.secagg.scope;
  r.secagg_.bits = static_cast<int>(config.aggregation.bits);
  r.secagg_.graph = config.secagg.graph;
  r.secagg_.degree = config.secagg.degree;
  r.secagg_.threshold = config.secagg.threshold;
  r.secagg_.authenticate = config.secagg.authenticate;
  r.secagg_.expected_dropout = config.federation.dropout_rate;
  return r;
}

size_t RoundRules::EncodedLength() const {
  return ddg_ ? static_cast<size_t>(ddg_->padded_dim()) : model_words_;
}

absl::StatusOr<FixedPointCodec> RoundRules::CodecForClip(double clip) const {
  if (clip == base_clip_) return *base_codec_;
  absl::StatusOr<FixedPointCodec> codec = FixedPointCodec::Derive(bits(), clip, max_cohort_);
  if (!codec.ok()) return WithContext(codec.status(), "adaptive clipping");
  return codec;
}

RoundEncoding RoundRules::EncodingFor(uint32_t round, const FixedPointCodec& codec,
                                      double clip) const {
  RoundEncoding e(codec);
  e.clip_norm = clip;
  if (ddg_) {
    e.ddg = ddg_;
    e.ddg_rotation_seed = DdgRotationSeed(seed_, round);
  }
  return e;
}

}  // namespace fedrec
