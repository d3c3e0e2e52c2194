// The privacy ledger of a training run (DESIGN.md, "The privacy ledger is
// part of the model"): which mechanism was applied in which round, the
// accountant's state, and the epsilon spent. It lives in every checkpoint
// (proto PrivacyLedger) and in RUN_DIR/privacy.json, so a resumed run
// continues it exactly.
//
// One released round = one step of the subsampled Gaussian mechanism with
// (q, sigma): Poisson sampling is accounted under add/remove-one adjacency
// (the user-level unit), a fixed-size cohort as sampling without replacement
// under replace-one (RDP accountant only; the PLD accountant refuses it).
//
// What is spent when: a round spends budget iff it RELEASES something (the
// noisy aggregate). A round in which every sampled client dropped out still
// releases the noise (and the fact that the sum was empty), so it spends.
// A round aborted by secure aggregation releases nothing and spends nothing:
// the coordinator never decodes it, and every later release is a function of
// the released aggregates only.
//
// In distributed-DP mode a round is one step of the Poisson-subsampled
// distributed discrete Gaussian instead: its RDP curve (LedgerOptions::
// round_rdp) is fixed for the run and composes the same way.
//
// Budget: with constant (q, sigma), epsilon grows with the number of
// released rounds T; MaxRounds() is the largest T within the target, found
// once (binary search with the configured accountant), and the coordinator
// refuses to start round T + 1. Per-round epsilons are computed with the RDP
// accountant for every round (cheap, incremental) and, with the PLD
// accountant, at the rounds the caller asks for (EpsilonNow), because a PLD
// composition costs ~0.1 s.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "privacy/accountant.h"
#include "privacy/rdp.h"
#include "proto/fedrec.pb.h"

namespace fedrec::privacy {

struct LedgerOptions {
  std::string accountant = "rdp";  // rdp|pld
  std::string mode = "central";    // central|distributed (for the record)
  SamplingScheme scheme = SamplingScheme::kPoisson;
  double sampling_rate = 0.01;  // q
  double noise_multiplier = 1;  // sigma
  double delta = 1e-5;
  std::optional<double> target_epsilon;
  bool noise_seed_pinned = false;
  // Distributed DP: the RDP curve of ONE released round at DefaultRdpOrders()
  // (DdgPoissonSubsampledRdp, privacy/ddg.h), composed instead of the
  // subsampled Gaussian's; noise_multiplier is then the central-equivalent
  // multiplier, for the record. RDP accountant and Poisson sampling only.
  std::vector<double> round_rdp;
  // Distributed DP: draws x eta of the table noise sampler (PrivacyPlan's
  // noise_draws x noise_eta; 0 for exact noise). privacy.json reports
  // delta_sampler = (1 + e^epsilon_spent) x this, the slack added to delta.
  double noise_slack = 0;
};

class PrivacyLedger {
 public:
  // InvalidArgument / FailedPrecondition on values the accountant refuses.
  static absl::StatusOr<PrivacyLedger> Create(const LedgerOptions& options);
  // Continues a ledger from a checkpoint; the options must match what it
  // recorded (accountant, q, sigma, delta), else FailedPrecondition.
  static absl::StatusOr<PrivacyLedger> FromProto(const LedgerOptions& options,
                                                 const proto::PrivacyLedger& ledger);

  // Records one released round.
  absl::Status Record(uint64_t round, double clip_norm, uint64_t cohort_size);
  // Records a release whose round is computed again after a resume (its
  // first result left the process but no checkpoint kept it): it costs a
  // step like any other, and is counted in recomputed().
  absl::Status RecordRecomputed(uint64_t round, double clip_norm, uint64_t cohort_size);

  // Epsilon after `steps` released rounds under the configured accountant.
  absl::StatusOr<double> EpsilonAfter(uint64_t steps) const;
  // Epsilon of the rounds released so far (configured accountant); kept
  // until the next Record(), since a PLD composition costs ~0.1 s and the
  // checkpoint, privacy.json and the summary all ask for it.
  absl::StatusOr<double> EpsilonNow() const;
  // RDP epsilon of the rounds so far (always available, incremental).
  double RdpEpsilonNow() const { return rdp_epsilon_; }

  // Largest number of released rounds whose epsilon is <= the target
  // (unbounded: UINT64_MAX when there is no target). Cached.
  absl::StatusOr<uint64_t> MaxRounds(uint64_t horizon);

  uint64_t steps() const { return entries_.size(); }
  // How many of the steps are releases that were computed again.
  uint64_t recomputed() const;
  const LedgerOptions& options() const { return options_; }

  void ToProto(proto::PrivacyLedger* out, double epsilon_spent) const;
  nlohmann::json ToJson(double epsilon_spent) const;

 private:
  explicit PrivacyLedger(LedgerOptions o, RdpAccountant rdp)
      : options_(std::move(o)), rdp_(std::move(rdp)) {}

  LedgerOptions options_;
  RdpAccountant rdp_;
  double rdp_epsilon_ = 0;
  std::vector<proto::LedgerEntry> entries_;
  std::optional<uint64_t> max_rounds_;
  mutable std::optional<double> epsilon_now_;  // EpsilonNow() at steps()
};

}  // namespace fedrec::privacy
