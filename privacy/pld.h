// The PLD (privacy loss distribution) accountant of fedrec: a
// tighter epsilon than RDP for the Poisson-subsampled Gaussian mechanism.
//
// References:
//   [KJH20] A. Koskela, J. Jälkö, A. Honkela, "Computing Tight Differential
//           Privacy Guarantees Using FFT", AISTATS 2020.
//   [DGKKM22] V. Doroshenko, B. Ghazi, P. Kamath, R. Kumar, P. Manurangsi,
//           "Connect the Dots: Tighter Discrete Approximations of Privacy Loss
//           Distributions", PETS 2022.
//   [GKKM] Google dp_accounting, "Privacy_Loss_Distributions.pdf"
//           (supplementary material of the library).
//
// What is computed. One step of the Poisson-subsampled Gaussian mechanism
// (rate q, noise multiplier sigma, L2 sensitivity 1) under add/remove-one
// adjacency has two worst-case pairs of output distributions, with
// N = N(0, sigma^2):
//   REMOVE: mu_upper = (1-q) N(x) + q N(x+1),  mu_lower = N(x)
//   ADD:    mu_upper = N(x),  mu_lower = (1-q) N(x) + q N(x-1)
// The privacy loss L = ln(mu_upper(x) / mu_lower(x)), x ~ mu_upper, has a
// distribution (the PLD) whose hockey-stick divergence
//   delta(eps) = E[(1 - e^(eps - L))_+]  (+ the mass of L = +inf)
// is the tight delta at eps. The PLD of T steps is the T-fold convolution.
// The epsilon reported is the max over REMOVE and ADD (for q = 1 the two are
// identical and only one is kept), as dp_accounting's PLDAccountant.
//
// Discretisation, as dp_accounting 0.6.0 from_gaussian_mechanism(
// pessimistic_estimate=True, use_connect_dots=True): losses live on the grid
// k * d (d = value_discretization_interval); the one-step PMF is the
// pessimistic connect-the-dots PMF [DGKKM22, Alg. 1] built from the exact
// hockey-stick divergence at every grid point between the losses at the
// noise quantiles exp(log_mass_truncation_bound)/2 (the tails beyond go to
// the +inf atom). Its delta(eps) is >= the true one for every eps, so
// the epsilon is never below the true epsilon, up to floating-point rounding
// (about 1e-12 absolute in delta after an FFT, in dp_accounting too; it
// matters only for deltas below ~1e-10). Self-composition is one FFT: the PMF's spectrum raised
// to the power T [KJH20], on a window chosen by a Chernoff bound so that at
// most tail_mass_truncation of mass falls outside; that mass is added to the
// +inf atom (pessimistic). Runs with different (q, sigma) are composed by
// FFT convolution, tails of at most tail_mass_truncation moved pessimistically
// (left tail onto the lowest kept loss, right tail to +inf).
//
// Fixed-size cohorts (sampling without replacement) are refused with
// FailedPrecondition: dp_accounting 0.6.0's PLD accountant has no PLD for
// them, and the replace-one analysis the RDP accountant uses for them is not
// the add/remove-one guarantee; account them with the RDP accountant.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "core/status.h"
#include "privacy/rdp.h"

namespace fedrec::privacy {

// `steps` rounds of the subsampled Gaussian mechanism (q, sigma).
struct MechanismRun {
  double q = 0;
  double sigma = 0;
  int64_t steps = 0;
  SamplingScheme scheme = SamplingScheme::kPoisson;
};

struct PldOptions {
  // Grid spacing of the privacy loss (nats); dp_accounting's default. The
  // error in epsilon is of this order (times a small factor); the cost grows
  // as 1/interval. A large epsilon (tens to thousands) needs a larger one.
  double value_discretization_interval = 1e-4;
  // Mass that each composition may move to the pessimistic side (the +inf
  // atom or the lowest kept loss) to keep the PMF short; dp_accounting's 1e-15.
  double tail_mass_truncation = 1e-15;
  // ln of the noise mass beyond the discretised range (-> +inf atom);
  // dp_accounting's -50.
  double log_mass_truncation_bound = -50;
  // Refuse (OutOfRange) PMFs longer than this many grid points (2^24: peak
  // memory about 24 bytes per point, some 400 MB, during an FFT).
  int64_t max_pmf_size = int64_t{1} << 24;
};

// A discretised privacy loss distribution: probs[i] is the mass of the loss
// (lower + i) * interval; infinity_mass the mass of the loss +inf. Dense.
class PldPmf {
 public:
  PldPmf(double interval, int64_t lower, std::vector<double> probs, double infinity_mass);
  // The PLD of a mechanism that reveals nothing: loss 0 with mass 1.
  static PldPmf Identity(double interval);

  // The PLD of the composition of the two mechanisms (convolution by FFT),
  // tails of at most `tail_mass_truncation` moved pessimistically.
  // Intervals must be equal (the caller's invariant).
  PldPmf Compose(const PldPmf& other, double tail_mass_truncation) const;
  // The PLD of `times` >= 1 compositions with itself, by one FFT: the
  // spectrum raised to the power `times` on a window chosen by a Chernoff
  // bound; the mass outside (<= tail_mass_truncation) goes to +inf.
  // OutOfRange when the window is longer than `max_size`.
  absl::StatusOr<PldPmf> SelfCompose(int64_t times, double tail_mass_truncation,
                                     int64_t max_size) const;

  // Hockey-stick divergence at `epsilon`: sum over losses l > epsilon of
  // (1 - e^(epsilon - l)) p(l), plus the +inf mass.
  double DeltaForEpsilon(double epsilon) const;
  // Smallest epsilon >= 0 with DeltaForEpsilon(epsilon) <= delta; +inf when
  // the +inf mass exceeds delta (dp_accounting's get_epsilon_for_delta).
  double EpsilonForDelta(double delta) const;

  double interval() const { return interval_; }
  int64_t lower() const { return lower_; }
  const std::vector<double>& probs() const { return probs_; }
  double infinity_mass() const { return infinity_mass_; }

 private:
  double interval_;
  int64_t lower_;
  std::vector<double> probs_;
  double infinity_mass_;
};

// The PLDs of one step of the Poisson-subsampled Gaussian (add/remove-one):
// `remove` always; `add` when q < 1 (for q = 1 the two coincide).
struct AddRemovePld {
  PldPmf remove;
  std::optional<PldPmf> add;
};

// One step's PLDs, pessimistic connect-the-dots discretisation. q in (0, 1],
// sigma > 0. InvalidArgument on bad values, OutOfRange when the grid would be
// longer than options.max_pmf_size.
absl::StatusOr<AddRemovePld> PoissonGaussianPld(double q, double sigma,
                                                const PldOptions& options = {});

// Exact hockey-stick divergence of one step (the deltas the PMF is built
// from), for the REMOVE (add = false) or ADD pair. q in (0, 1], sigma > 0.
double PoissonGaussianHockeyStick(double q, double sigma, bool add, double epsilon);

// The composed PLD of a list of runs, for several queries (epsilon at
// several deltas, delta at several epsilons) without recomposing.
class ComposedPld {
 public:
  // Composes all `runs`: runs with q = 0 or steps = 0 spend nothing; a run
  // with sigma = 0 (and q, steps > 0) makes the result non-private; runs with
  // equal (q, sigma) are merged (composition commutes). FailedPrecondition for
  // a fixed-size run (see above); InvalidArgument on bad values; OutOfRange
  // when the PLD does not fit options.max_pmf_size (use a larger interval).
  static absl::StatusOr<ComposedPld> Create(std::span<const MechanismRun> runs,
                                            const PldOptions& options = {});

  // Smallest epsilon with delta(epsilon) <= `delta` in (0, 1), max over
  // REMOVE and ADD; +inf when non-private or when no finite epsilon does.
  absl::StatusOr<double> Epsilon(double delta) const;
  // delta(epsilon) for epsilon >= 0, max over REMOVE and ADD; 1 when
  // non-private.
  absl::StatusOr<double> Delta(double epsilon) const;

  bool non_private() const { return non_private_; }
  const PldPmf& remove() const { return remove_; }
  // Absent while every run is symmetric (q = 1): then ADD = REMOVE.
  const std::optional<PldPmf>& add() const { return add_; }

 private:
  ComposedPld(bool non_private, PldPmf remove, std::optional<PldPmf> add)
      : non_private_(non_private), remove_(std::move(remove)), add_(std::move(add)) {}
  bool non_private_;
  PldPmf remove_;
  std::optional<PldPmf> add_;
};

// Epsilon of composing all `runs` at `delta` in (0, 1) (ComposedPld). Never below the true
// epsilon (pessimistic). Runs with q = 0 or steps = 0 spend nothing; a run
// with sigma = 0 (and q, steps > 0) gives +inf. Runs with equal (q, sigma)
// are merged (composition commutes). FailedPrecondition for a fixed-size run
// (see above); InvalidArgument on bad values; OutOfRange when the PLD does
// not fit options.max_pmf_size (use a larger interval).
absl::StatusOr<double> PldEpsilon(std::span<const MechanismRun> runs, double delta,
                                  const PldOptions& options = {});
// Delta of composing all `runs` at `epsilon` >= 0 (max over REMOVE and ADD);
// 1 when a run has sigma = 0. Never below the true delta.
absl::StatusOr<double> PldDelta(std::span<const MechanismRun> runs, double epsilon,
                                const PldOptions& options = {});

struct PldCalibrationOptions {
  PldOptions pld;
  double rel_tol = 1e-6;  // in (0, 1)
};

// As CalibrateNoiseMultiplier (privacy/accountant.h) with the PLD accountant
// (Poisson sampling): the smallest sigma, to relative tolerance rel_tol, with
// PldEpsilon({q, sigma, steps}, delta) <= target_epsilon; the upper end of
// the bisection bracket is returned, so the result never overspends. q = 0 or
// steps = 0 gives 0. The bracket starts from the RDP-calibrated sigma (an
// upper bound up to discretisation), so no tiny sigma with a huge PLD is
// ever tried.
absl::StatusOr<double> CalibrateNoiseMultiplierPld(double q, int64_t steps, double delta,
                                                   double target_epsilon,
                                                   const PldCalibrationOptions& options = {});

}  // namespace fedrec::privacy
