#include "privacy/ledger.h"

#include <cmath>
#include <limits>

#include "fmt/format.h"
#include "privacy/pld.h"

namespace fedrec::privacy {

absl::StatusOr<PrivacyLedger> PrivacyLedger::Create(const LedgerOptions& o) {
  if (o.accountant != "rdp" && o.accountant != "pld") {
    return absl::InvalidArgumentError("privacy.accountant: unknown value '" + o.accountant + "'");
  }
  if (o.accountant == "pld" && o.scheme == SamplingScheme::kFixedSize) {
    return absl::FailedPreconditionError(
        "privacy.accountant: 'pld' accounts Poisson sampling only; a fixed cohort "
        "(federation.clients_per_round > 0) is accounted by privacy.accountant = \"rdp\" "
        "(sampling without replacement)");
  }
  if (!o.round_rdp.empty()) {
    if (o.accountant != "rdp" || o.scheme != SamplingScheme::kPoisson) {
      return absl::FailedPreconditionError(
          "privacy: the distributed discrete Gaussian is accounted by the RDP accountant under "
          "Poisson sampling only (privacy.accountant = \"rdp\", federation.clients_per_round = "
          "0)");
    }
    if (o.round_rdp.size() != DefaultRdpOrders().size()) {
      return absl::InvalidArgumentError("privacy: round_rdp: not on the default orders");
    }
  }
  PrivacyLedger ledger(o, RdpAccountant(AdjacencyFor(o.scheme)));
  // Validates (q, sigma, delta) once, so Record() cannot fail on them later.
  FEDREC_RETURN_IF_ERROR(ledger.EpsilonAfter(1).status());
  return ledger;
}

absl::StatusOr<PrivacyLedger> PrivacyLedger::FromProto(const LedgerOptions& o,
                                                       const proto::PrivacyLedger& saved) {
  FEDREC_ASSIGN_OR_RETURN(PrivacyLedger ledger, Create(o));
  if (saved.steps() == 0 && saved.entries_size() == 0) return ledger;
  if (saved.accountant() != o.accountant || saved.noise_multiplier() != o.noise_multiplier ||
      saved.sampling_rate() != o.sampling_rate || saved.delta() != o.delta) {
    return absl::FailedPreconditionError(fmt::format(
        "checkpoint: privacy ledger was kept with accountant {} q {} sigma {} delta {}, the run "
        "now asks for {} q {} sigma {} delta {}",
        saved.accountant(), saved.sampling_rate(), saved.noise_multiplier(), saved.delta(),
        o.accountant, o.sampling_rate, o.noise_multiplier, o.delta));
  }
  for (const proto::LedgerEntry& e : saved.entries()) {
    FEDREC_RETURN_IF_ERROR(e.recomputed()
                               ? ledger.RecordRecomputed(e.round(), e.clip_norm(), e.cohort_size())
                               : ledger.Record(e.round(), e.clip_norm(), e.cohort_size()));
  }
  return ledger;
}

absl::Status PrivacyLedger::Record(uint64_t round, double clip_norm, uint64_t cohort_size) {
  if (options_.round_rdp.empty()) {
    FEDREC_RETURN_IF_ERROR(
        rdp_.Compose(options_.sampling_rate, options_.noise_multiplier, 1, options_.scheme));
  } else {
    FEDREC_RETURN_IF_ERROR(rdp_.ComposeRdp(options_.round_rdp, 1));
  }
  FEDREC_ASSIGN_OR_RETURN(EpsilonAndOrder e, rdp_.Epsilon(options_.delta));
  rdp_epsilon_ = e.epsilon;
  proto::LedgerEntry entry;
  entry.set_round(round);
  entry.set_noise_multiplier(options_.noise_multiplier);
  entry.set_sampling_rate(options_.sampling_rate);
  entry.set_clip_norm(clip_norm);
  entry.set_cohort_size(cohort_size);
  entry.set_epsilon_after(options_.accountant == "rdp" ? rdp_epsilon_
                                                       : std::numeric_limits<double>::quiet_NaN());
  entries_.push_back(entry);
  epsilon_now_.reset();
  return absl::OkStatus();
}

absl::Status PrivacyLedger::RecordRecomputed(uint64_t round, double clip_norm,
                                             uint64_t cohort_size) {
  FEDREC_RETURN_IF_ERROR(Record(round, clip_norm, cohort_size));
  entries_.back().set_recomputed(true);
  return absl::OkStatus();
}

uint64_t PrivacyLedger::recomputed() const {
  uint64_t n = 0;
  for (const auto& e : entries_) n += e.recomputed() ? 1 : 0;
  return n;
}

absl::StatusOr<double> PrivacyLedger::EpsilonNow() const {
  if (!epsilon_now_) {
    FEDREC_ASSIGN_OR_RETURN(double e, EpsilonAfter(steps()));
    epsilon_now_ = e;
  }
  return *epsilon_now_;
}

absl::StatusOr<double> PrivacyLedger::EpsilonAfter(uint64_t steps) const {
  if (steps == 0) return 0.0;
  if (!options_.round_rdp.empty()) {
    return RdpCurveEpsilon(options_.round_rdp, static_cast<int64_t>(steps), options_.delta);
  }
  if (options_.accountant == "pld") {
    const MechanismRun run{.q = options_.sampling_rate,
                           .sigma = options_.noise_multiplier,
                           .steps = static_cast<int64_t>(steps),
                           .scheme = options_.scheme};
    return PldEpsilon(std::span<const MechanismRun>(&run, 1), options_.delta);
  }
  FEDREC_ASSIGN_OR_RETURN(
      EpsilonAndOrder e,
      SubsampledGaussianEpsilon(options_.scheme, options_.sampling_rate, options_.noise_multiplier,
                                static_cast<int64_t>(steps), options_.delta));
  return e.epsilon;
}

absl::StatusOr<uint64_t> PrivacyLedger::MaxRounds(uint64_t horizon) {
  if (max_rounds_) return *max_rounds_;
  if (!options_.target_epsilon) {
    max_rounds_ = std::numeric_limits<uint64_t>::max();
    return *max_rounds_;
  }
  const double target = *options_.target_epsilon;
  // Largest T in [0, horizon] with EpsilonAfter(T) <= target (monotone in T).
  uint64_t lo = 0, hi = horizon;
  FEDREC_ASSIGN_OR_RETURN(double at_hi, EpsilonAfter(hi));
  if (at_hi <= target) {
    lo = hi;
  } else {
    while (hi - lo > 1) {
      const uint64_t mid = lo + (hi - lo) / 2;
      FEDREC_ASSIGN_OR_RETURN(double e, EpsilonAfter(mid));
      (e <= target ? lo : hi) = mid;
    }
  }
  max_rounds_ = lo;
  return lo;
}

void PrivacyLedger::ToProto(proto::PrivacyLedger* out, double epsilon_spent) const {
  out->Clear();
  out->set_accountant(options_.accountant);
  out->set_mode(options_.mode);
  out->set_noise_multiplier(options_.noise_multiplier);
  out->set_sampling_rate(options_.sampling_rate);
  out->set_delta(options_.delta);
  out->set_steps(steps());
  out->set_epsilon_spent(epsilon_spent);
  out->set_target_epsilon(options_.target_epsilon.value_or(0.0));
  out->set_noise_seed_pinned(options_.noise_seed_pinned);
  for (const auto& e : entries_) *out->add_entries() = e;
  out->mutable_rdp_orders()->Add(rdp_.orders().begin(), rdp_.orders().end());
  out->mutable_rdp_values()->Add(rdp_.rdp().begin(), rdp_.rdp().end());
}

nlohmann::json PrivacyLedger::ToJson(double epsilon_spent) const {
  nlohmann::json rounds = nlohmann::json::array();
  for (const auto& e : entries_) {
    nlohmann::json r = {{"round", e.round()},
                        {"noise_multiplier", e.noise_multiplier()},
                        {"sampling_rate", e.sampling_rate()},
                        {"clip_norm", e.clip_norm()},
                        {"cohort_size", e.cohort_size()}};
    if (!std::isnan(e.epsilon_after())) r["epsilon_after"] = e.epsilon_after();
    if (e.recomputed()) r["recomputed"] = true;
    rounds.push_back(r);
  }
  nlohmann::json out = {
      {"accountant", options_.accountant},
      {"mode", options_.mode},
      {"mechanism", options_.round_rdp.empty()
                        ? "subsampled_gaussian"
                        : "poisson_subsampled_distributed_discrete_gaussian"},
      {"sampling", options_.scheme == SamplingScheme::kPoisson ? "poisson" : "fixed_size"},
      {"adjacency", options_.scheme == SamplingScheme::kPoisson ? "add_remove_one" : "replace_one"},
      {"noise_multiplier", options_.noise_multiplier},
      {"sampling_rate", options_.sampling_rate},
      {"delta", options_.delta},
      {"target_epsilon", options_.target_epsilon ? nlohmann::json(*options_.target_epsilon)
                                                 : nlohmann::json(nullptr)},
      {"noise_seed_pinned", options_.noise_seed_pinned},
      {"released_rounds", steps()},
      {"recomputed_rounds", recomputed()},
      {"epsilon_spent", epsilon_spent},
      {"epsilon_spent_rdp", rdp_epsilon_},
      {"rdp_state", RdpStateToJson(rdp_.state())},
      {"rounds", rounds}};
  if (options_.mode == "distributed") {
    // The table noise sampler's slack (0 with exact noise), see ledger.h.
    out["delta_sampler"] =
        options_.noise_slack == 0 ? 0.0 : (1.0 + std::exp(epsilon_spent)) * options_.noise_slack;
  }
  return out;
}

}  // namespace fedrec::privacy
