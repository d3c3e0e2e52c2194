#include "coordinator/run_summary.h"

#include <cmath>
#include <limits>
#include <string>

#include "coordinator/run_common.h"
#include "models/evaluation.h"
#include "spdlog/spdlog.h"

namespace fedrec {

nlohmann::json PhaseSeconds::Json() const {
  return {{"broadcast", broadcast},
          {"local_train", local_train},
          {"encode", encode},
          {"allreduce", allreduce},
          {"straggler_wait", straggler_wait},
          {"decode_update", decode_update},
          {"eval", eval},
          {"checkpoint", checkpoint},
          {"secagg", secagg}};
}

void PhaseSeconds::Add(const PhaseSeconds& o) {
  broadcast += o.broadcast;
  local_train += o.local_train;
  encode += o.encode;
  allreduce += o.allreduce;
  straggler_wait += o.straggler_wait;
  decode_update += o.decode_update;
  eval += o.eval;
  checkpoint += o.checkpoint;
  secagg += o.secagg;
}

void LogRunStart(const FederationSetup& s_) {
  const Config& c_ = s_.config;
  const FederationConfig& f = c_.federation;
  const std::string cohort =
      f.clients_per_round > 0
          ? fmt::format("fixed cohort of {}", s_.MaxCohort())
          : fmt::format("Poisson q = {} (expected {:.1f} clients)", f.sampling_rate,
                        f.sampling_rate * static_cast<double>(s_.population.size()));
  spdlog::info("federated: {} workers over '{}', {} clients, {}, server {} (lr {})", s_.num_workers,
               s_.CollectiveName(), s_.population.size(), cohort, f.server_optimizer, f.server_lr);
  spdlog::info("aggregation: {}", s_.rules->base_codec().Describe());
  if (s_.privacy.ddg) {
    const privacy::DdgParams& p = s_.privacy.ddg->params();
    spdlog::info(
        "privacy: distributed DP (discrete Gaussian, KLS21), central-equivalent sigma {:.4f}{}, "
        "q {:.5f} (Poisson), delta {}, rdp accountant; each client adds noise of std {:.4g} "
        "(= sigma C / sqrt({})) on a grid of {:.3g} in Z_2^{} over {} rotated coordinates",
        s_.privacy.dp->noise_multiplier, c_.privacy.noise_multiplier == 0 ? " (calibrated)" : "",
        s_.privacy.dp->sampling_rate, c_.privacy.delta, p.local_stddev, s_.privacy.min_noise_shares,
        p.gamma, p.bits, s_.privacy.ddg->padded_dim());
    spdlog::info(
        "privacy: a round is released only with >= {} uploads (P(fewer) = {:.2g} per round); "
        "P(any coordinate wraps) <= {:.2g} per round",
        s_.privacy.min_noise_shares, s_.privacy.shortfall_probability,
        s_.privacy.WrapProbability());
    spdlog::info(
        "privacy: noise by the {} sampler, eta {:.3g} per coordinate over <= {:.3g} "
        "coordinates: delta grows by <= (1 + e^epsilon) x {:.3g}",
        s_.privacy.ddg->fast_noise() ? "table" : "exact CKS", s_.privacy.noise_eta,
        s_.privacy.noise_draws, s_.privacy.noise_draws * s_.privacy.noise_eta);
    if (!s_.privacy.noise_fallback.empty()) {
      spdlog::warn("privacy: noise by the exact CKS sampler (slow): {}", s_.privacy.noise_fallback);
    }
  } else if (s_.privacy.dp) {
    spdlog::info(
        "privacy: central DP, sigma {:.4f}{}, q {:.5f} ({} sampling), delta {}, {} accountant, "
        "denominator {:.1f} (expected cohort)",
        s_.privacy.dp->noise_multiplier, c_.privacy.noise_multiplier == 0 ? " (calibrated)" : "",
        s_.privacy.dp->sampling_rate, f.clients_per_round > 0 ? "fixed-size" : "Poisson",
        c_.privacy.delta, c_.privacy.accountant, s_.privacy.expected_cohort);
  }
  if (s_.privacy.adaptive_clip) {
    const privacy::AdaptiveClipConfig& a = *s_.privacy.adaptive_clip;
    spdlog::info(
        "clipping: adaptive (Andrew et al. 2021) from {} towards the {} quantile of update "
        "norms, lr {}, count noise std {}{}",
        a.initial_clip, a.target_quantile, a.learning_rate, a.count_stddev,
        s_.privacy.dp
            ? fmt::format("; update noise multiplier {:.4f} so that update and count "
                          "together cost sigma {:.4f}",
                          s_.privacy.update_noise_multiplier, s_.privacy.dp->noise_multiplier)
            : std::string(" (no DP: the count is exact)"));
  }
  if (s_.privacy.dp) {
    if (c_.privacy.noise_seed) {
      spdlog::warn(
          "privacy.noise_seed = {} PINS THE DP NOISE: it is reproducible and NOT secret. This "
          "run is an experiment, not a private release.",
          *c_.privacy.noise_seed);
    }
  }
}

nlohmann::json RoundMetricsLine(uint32_t round, double clip, const RoundOutcome& outcome,
                                const PhaseSeconds& seconds, double round_seconds,
                                const privacy::AdaptiveClip* clip_rule) {
  const double updates_per_second =
      seconds.local_train + seconds.encode > 0
          ? outcome.stats.uploaded / (seconds.local_train + seconds.encode)
          : 0;
  nlohmann::json line = {
      {"round", round},
      {"sampled", outcome.stats.sampled},
      {"dropped", outcome.stats.dropped},
      {"uploaded", outcome.stats.uploaded},
      // NaN (written as null) when a client's loss was not finite: a diverged
      // round must not read as a perfect one.
      {"loss", outcome.stats.nonfinite_loss > 0 ? std::numeric_limits<double>::quiet_NaN()
               : outcome.stats.uploaded
                   ? static_cast<double>(outcome.stats.loss_fixed) / 4294967296.0 /
                         static_cast<double>(outcome.stats.uploaded)
                   : 0.0},
      {"fraction_clipped", outcome.stats.uploaded ? static_cast<double>(outcome.stats.clipped) /
                                                        static_cast<double>(outcome.stats.uploaded)
                                                  : 0.0},
      {"mean_update_norm", outcome.stats.uploaded
                               ? static_cast<double>(outcome.stats.norm_fixed) / 4294967296.0 /
                                     static_cast<double>(outcome.stats.uploaded)
                               : 0.0},
      {"client_updates_per_second", updates_per_second},
      {"round_seconds", round_seconds},
      {"seconds", seconds.Json()}};
  if (outcome.stats.nonfinite_loss > 0) line["nonfinite_loss"] = outcome.stats.nonfinite_loss;
  if (outcome.epsilon) line["epsilon_rdp"] = *outcome.epsilon;
  if (!outcome.withheld.empty()) line["withheld"] = outcome.withheld;
  if (clip_rule) {
    line["clip_norm"] = clip;
    if (std::isfinite(clip_rule->last_fraction())) {
      line["noisy_unclipped_fraction"] = clip_rule->last_fraction();
    }
  }
  if (outcome.sum.secure) {
    line["secagg"] = {{"participants", outcome.sum.stats.participants},
                      {"survivors", outcome.sum.stats.survivors},
                      {"aborted", outcome.sum.aborted}};
    if (outcome.sum.aborted) line["secagg"]["abort_reason"] = outcome.sum.abort_reason;
  }
  return line;
}

absl::StatusOr<nlohmann::json> FederatedSummary(const FederationSetup& s_, const RunTotals& totals,
                                                const nlohmann::json& valid_at_best,
                                                const nlohmann::json& test_at_best,
                                                const privacy::PrivacyLedger* ledger,
                                                const privacy::GaussianNoise* noise,
                                                const privacy::AdaptiveClip* clip_rule) {
  const Config& c_ = s_.config;
  const uint32_t rounds_run = totals.rounds_this_session;
  const double train_phase = totals.seconds.local_train + totals.seconds.encode;
  nlohmann::json summary = {
      {"mode", "federated"},
      {"model", s_.spec.type()},
      {"backend", s_.comm_backend},
      {"comm", s_.CollectiveName()},
      {"compute", s_.compute_backend},
      {"workers", s_.num_workers},
      {"threads_per_worker", s_.threads_per_worker},
      {"rounds", c_.federation.rounds},
      {"clients", s_.population.size()},
      {"aggregation", s_.rules->base_codec().Describe()},
      // What one client uploads per round (before secure-aggregation masking,
      // which keeps the size): the encoded update, one ring element per word.
      {"upload_words_per_client", s_.rules->EncodedLength()},
      {"upload_bytes_per_client", s_.rules->EncodedLength() * (s_.rules->bits() / 8)},
      {"server_optimizer", c_.federation.server_optimizer},
      {"best_round", totals.best_round},
      {"valid_at_best", valid_at_best},
      {"valid_protocol", c_.eval.protocol},
      {"test_at_best", test_at_best},
      {"model_sha256", totals.model_sha256},
      {"wall_seconds", totals.wall_seconds},
      {"rounds_this_session", rounds_run},
      {"seconds_this_session", totals.seconds.Json()},
      {"client_updates_this_session", totals.uploaded},
      {"mean_cohort", rounds_run ? static_cast<double>(totals.sampled) / rounds_run : 0.0},
      {"client_updates_per_second",
       train_phase > 0 ? static_cast<double>(totals.uploaded) / train_phase : 0.0},
      {"users", s_.data.num_users()},
      {"items", s_.data.num_items()},
      {"interactions", s_.data.num_interactions()},
      {"last_round", totals.last_round},
      {"rounds_withheld_this_session",
       {{"secagg_aborted", totals.aborted_rounds},
        {"too_few_noise_shares", totals.withheld_rounds}}}};
  if (s_.data.item_features != nullptr) summary["item_features"] = ItemFeaturesJson(s_.data);
  if (!totals.stop_reason.empty()) summary["stopped_reason"] = totals.stop_reason;
  if (totals.interrupted) summary["interrupted"] = true;
  if (clip_rule) {
    summary["adaptive_clip"] = clip_rule->ToJson();
    if (s_.privacy.dp)
      summary["adaptive_clip"]["update_noise_multiplier"] = s_.privacy.update_noise_multiplier;
  }
  if (ledger) {
    FEDREC_ASSIGN_OR_RETURN(double spent, ledger->EpsilonNow());
    summary["privacy"] = {
        {"mode", c_.privacy.mode},
        {"accountant", c_.privacy.accountant},
        {"noise_multiplier", s_.privacy.dp->noise_multiplier},
        {"sampling_rate", s_.privacy.dp->sampling_rate},
        {"delta", c_.privacy.delta},
        {"target_epsilon", c_.privacy.target_epsilon ? nlohmann::json(*c_.privacy.target_epsilon)
                                                     : nlohmann::json(nullptr)},
        {"epsilon", spent},
        {"released_rounds", ledger->steps()},
        {"recomputed_rounds", ledger->recomputed()},
        {"noise_seed_pinned", noise->pinned()}};
    if (s_.privacy.ddg) {
      const privacy::DdgParams& p = s_.privacy.ddg->params();
      summary["privacy"]["distributed"] = {
          {"mechanism", "distributed discrete Gaussian (Kairouz, Liu, Steinke 2021)"},
          {"local_stddev", p.local_stddev},
          {"gamma", p.gamma},
          {"bits", p.bits},
          {"beta", p.beta},
          {"dim", p.dim},
          {"padded_dim", s_.privacy.ddg->padded_dim()},
          {"min_noise_shares", s_.privacy.min_noise_shares},
          {"shortfall_probability_per_round", s_.privacy.shortfall_probability},
          {"delta_shortfall", static_cast<double>(ledger->steps()) *
                                  s_.privacy.shortfall_probability * (1.0 + std::exp(spent))},
          {"wrap_probability_per_round", s_.privacy.WrapProbability()},
          {"noise_sampler", s_.privacy.ddg->fast_noise() ? "table (eta-bounded)" : "exact (CKS)"},
          {"noise_eta_per_coordinate", s_.privacy.noise_eta},
          {"noise_draws_bound", s_.privacy.noise_draws},
          {"delta_sampler", s_.privacy.DeltaSampler(spent)}};
    }
    if (noise->pinned()) {
      summary["privacy"]["warning"] =
          "privacy.noise_seed pinned the DP noise: it is reproducible, NOT secret; this run "
          "is an experiment, not a private release";
    }
  } else {
    summary["privacy"] = {{"mode", "none"}};
  }
  return summary;
}

}  // namespace fedrec
