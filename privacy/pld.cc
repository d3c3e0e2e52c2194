#include "privacy/pld.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <string>
#include <unsupported/Eigen/FFT>
#include <utility>

#include "privacy/accountant.h"

namespace fedrec::privacy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------
// The standard normal distribution.

double NormCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// log Phi(z), accurate in both tails (as scipy.special.log_ndtr).
double LogNormCdf(double z) {
  if (z == kInf) return 0;
  if (z == -kInf) return -kInf;
  if (z > 6) return std::log1p(-0.5 * std::erfc(z / std::sqrt(2.0)));
  if (z > -20) return std::log(NormCdf(z));
  // Asymptotic series: Phi(z) = phi(z) / (-z) * (1 - 1/z^2 + 3/z^4 - 15/z^6 + ...);
  // for z <= -20 six terms are below double precision.
  const double z2 = z * z;
  double term = 1;
  double sum = 1;
  for (int k = 1; k <= 6; ++k) {
    term *= -(2.0 * k - 1) / z2;
    sum += term;
  }
  return -0.5 * z2 - std::log(-z) - 0.5 * std::log(2 * M_PI) + std::log(sum);
}

// Phi^{-1}(p) for p in (0, 0.5], by bisection on NormCdf (called once per PLD).
double NormQuantileLow(double p) {
  double lo = -40;
  double hi = 0;
  for (int i = 0; i < 200 && hi - lo > 0; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (mid == lo || mid == hi) break;
    if (NormCdf(mid) < p) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

double LogAddExp(double a, double b) {
  if (a == -kInf) return b;
  if (b == -kInf) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(std::min(a, b) - m));
}

// log(1 + (e^t - 1) / q) for q in (0, 1), t > log(1 - q): the unsubsampled
// privacy loss whose subsampled loss is t.
double UnsubsampledLoss(double t, double q) {
  if (t > 1) return t - std::log(q) + std::log1p(-(1 - q) * std::exp(-t));
  return std::log1p(std::expm1(t) / q);
}

// log(1 - q + q e^l): the subsampled loss of an unsubsampled loss l.
double SubsampledLoss(double l, double q) {
  if (l > 0) return l + std::log(q + (1 - q) * std::exp(-l));
  return std::log1p(q * std::expm1(l));
}

bool IsClose(double a, double b) {
  return std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b));
}

// ---------------------------------------------------------------------------
// The privacy loss of the Poisson-subsampled Gaussian mechanism (sensitivity
// 1, noise std s, rate q), for the REMOVE or the ADD pair (see pld.h); as
// dp_accounting's GaussianPrivacyLoss. The loss is non-increasing in x.
class SubsampledGaussianLoss {
 public:
  SubsampledGaussianLoss(double q, double s, bool add) : q_(q), s_(s), add_(add) {}

  // ln(mu_upper(x) / mu_lower(x)).
  double Loss(double x) const { return add_ ? -LossRemove(-x) : LossRemove(x); }

  // The largest x with Loss(x) >= loss.
  double InverseLoss(double loss) const {
    const double s2 = s_ * s_;
    if (!add_) {
      if (q_ == 1) return -0.5 - loss * s2;
      if (IsClose(loss, std::log1p(-q_))) return kInf;
      return -0.5 - UnsubsampledLoss(loss, q_) * s2;
    }
    if (q_ == 1) return 0.5 - loss * s2;
    if (IsClose(loss, -std::log1p(-q_))) return -kInf;
    return 0.5 + UnsubsampledLoss(-loss, q_) * s2;
  }

  double UpperCdf(double x) const {
    if (add_) return NormCdf(x / s_);
    if (q_ == 1) return NormCdf((x + 1) / s_);
    return (1 - q_) * NormCdf(x / s_) + q_ * NormCdf((x + 1) / s_);
  }

  double LowerLogCdf(double x) const {
    if (!add_) return LogNormCdf(x / s_);
    if (q_ == 1) return LogNormCdf((x - 1) / s_);
    return LogAddExp(std::log1p(-q_) + LogNormCdf(x / s_), std::log(q_) + LogNormCdf((x - 1) / s_));
  }

  // The exact hockey-stick divergence at eps: mu_upper(L >= eps) -
  // e^eps mu_lower(L >= eps), the event being x <= InverseLoss(eps).
  double Delta(double eps) const {
    if (q_ < 1) {
      if (!add_ && eps <= std::log1p(-q_)) return std::clamp(-std::expm1(eps), 0.0, 1.0);
      if (add_ && eps >= -std::log1p(-q_)) return 0;
    }
    const double x = InverseLoss(eps);
    const double d = UpperCdf(x) - std::exp(eps + LowerLogCdf(x));
    return std::clamp(d, 0.0, 1.0);
  }

 private:
  double LossRemove(double x) const {
    const double l = (-0.5 - x) / (s_ * s_);
    return q_ == 1 ? l : SubsampledLoss(l, q_);
  }

  double q_;
  double s_;
  bool add_;
};

// ---------------------------------------------------------------------------
// FFT helpers (Eigen's kissfft backend).

// Smallest 2^a 3^b 5^c >= n with a >= 2 (kissfft's real transform wants a
// multiple of 4; factors 2, 3, 4, 5 are its fast radices).
int64_t FastFftLength(int64_t n) {
  n = std::max<int64_t>(n, 4);
  int64_t best = std::numeric_limits<int64_t>::max();
  for (int64_t p5 = 4; p5 < 2 * n; p5 *= 5) {
    for (int64_t p35 = p5; p35 < 2 * n; p35 *= 3) {
      int64_t p = p35;
      while (p < n) p *= 2;
      best = std::min(best, p);
    }
  }
  return best;
}

using Spectrum = std::vector<std::complex<double>>;

Spectrum RealFft(Eigen::FFT<double>& fft, std::vector<double> in, int64_t length) {
  in.resize(static_cast<size_t>(length), 0.0);
  Spectrum spectrum;
  fft.fwd(spectrum, in);
  return spectrum;
}

std::vector<double> InverseRealFft(Eigen::FFT<double>& fft, const Spectrum& spectrum) {
  std::vector<double> out;
  fft.inv(out, spectrum);  // scaled by 1 / length
  return out;
}

// dp_accounting's _truncate_tails (pessimistic): drops the longest prefix and
// suffix of mass <= tail / 2 each; the prefix's mass moves onto the first kept
// element (a higher loss), the suffix's is returned (it goes to +inf).
struct Truncated {
  int64_t offset = 0;
  std::vector<double> probs;
  double right_mass = 0;
};

Truncated TruncateTails(std::vector<double> probs, double tail) {
  Truncated t;
  if (tail == 0 || probs.empty()) {
    t.probs = std::move(probs);
    return t;
  }
  const int64_t n = static_cast<int64_t>(probs.size());
  auto prefix_to_truncate = [&](bool reversed) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) {
      s += probs[static_cast<size_t>(reversed ? n - 1 - i : i)];
      if (s > tail / 2) return i;
    }
    return n;
  };
  int64_t left = std::min(prefix_to_truncate(false), n - 1);
  int64_t right = n - prefix_to_truncate(true);
  right = std::max(right, left + 1);
  double left_mass = 0;
  for (int64_t i = 0; i < left; ++i) left_mass += probs[static_cast<size_t>(i)];
  for (int64_t i = right; i < n; ++i) t.right_mass += probs[static_cast<size_t>(i)];
  t.offset = left;
  t.probs.assign(probs.begin() + left, probs.begin() + right);
  t.probs[0] += left_mass;
  return t;
}

absl::Status TooLarge(int64_t size, int64_t max_size, double interval) {
  return absl::OutOfRangeError(
      "privacy: pld: the discretised privacy loss needs " + std::to_string(size) +
      " grid points (limit " + std::to_string(max_size) +
      "); use a larger value discretization interval (now " + std::to_string(interval) + ")");
}

absl::Status ValidateOptions(const PldOptions& o) {
  const double d = o.value_discretization_interval;
  if (!(d > 0) || !std::isfinite(d)) {
    return InvalidInput("privacy: pld: value_discretization_interval", "must be > 0 and finite");
  }
  if (!(o.tail_mass_truncation >= 0 && o.tail_mass_truncation < 1)) {
    return InvalidInput("privacy: pld: tail_mass_truncation", "must be in [0, 1)");
  }
  if (!(o.log_mass_truncation_bound < 0) || !std::isfinite(o.log_mass_truncation_bound)) {
    return InvalidInput("privacy: pld: log_mass_truncation_bound", "must be < 0 and finite");
  }
  if (o.max_pmf_size < 1) return InvalidInput("privacy: pld: max_pmf_size", "must be >= 1");
  return absl::OkStatus();
}

// The pessimistic connect-the-dots PMF of one pair [DGKKM22, Alg. 1], as
// dp_accounting's create_pmf_pessimistic_connect_dots_fixed_gap: support the
// grid points k * d for k in [k_lo, k_hi], masses from the exact deltas there.
absl::StatusOr<PldPmf> ConnectTheDots(const SubsampledGaussianLoss& loss, bool add, double s,
                                      const PldOptions& options) {
  const double d = options.value_discretization_interval;
  // Truncation of the noise: each tail of N(0, s^2) beyond lower_x / upper_x
  // has mass exp(bound) / 2 (dp_accounting's privacy_loss_tail).
  double lower_x = NormQuantileLow(0.5 * std::exp(options.log_mass_truncation_bound)) * s;
  double upper_x = -lower_x;
  if (add) {
    upper_x += 1;
  } else {
    lower_x -= 1;
  }
  const double eps_upper = loss.Loss(lower_x);
  const double eps_lower = loss.Loss(upper_x);
  const double k_hi_d = std::ceil(eps_upper / d);
  const double k_lo_d = std::floor(eps_lower / d);
  if (!(k_hi_d - k_lo_d + 1 <= static_cast<double>(options.max_pmf_size))) {
    return TooLarge(std::isfinite(k_hi_d - k_lo_d) ? static_cast<int64_t>(k_hi_d - k_lo_d + 1)
                                                   : std::numeric_limits<int64_t>::max(),
                    options.max_pmf_size, d);
  }
  const int64_t k_lo = static_cast<int64_t>(k_lo_d);
  const int64_t n = static_cast<int64_t>(k_hi_d) - k_lo + 1;

  std::vector<double> deltas(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    deltas[static_cast<size_t>(i)] = loss.Delta(static_cast<double>(k_lo + i) * d);
  }
  if (n == 1) return PldPmf(d, k_lo, {1 - deltas[0]}, deltas[0]);
  // Hockey-stick divergence is non-increasing in eps; smooth out rounding.
  for (size_t i = 1; i < deltas.size(); ++i) deltas[i] = std::min(deltas[i], deltas[i - 1]);
  std::vector<double> probs(static_cast<size_t>(n));
  const double em1 = std::expm1(d);
  const double e = std::exp(d);
  probs[0] = 1 - deltas[0] + (deltas[1] - deltas[0]) / em1;
  for (size_t i = 1; i + 1 < probs.size(); ++i) {
    probs[i] = ((deltas[i + 1] - deltas[i]) - (deltas[i] - deltas[i - 1]) * e) / em1;
  }
  probs[probs.size() - 1] =
      (deltas[deltas.size() - 1] - deltas[deltas.size() - 2]) / std::expm1(-d);
  for (double& p : probs) p = std::max(0.0, p);
  return PldPmf(d, k_lo, std::move(probs), deltas.back());
}

// ---------------------------------------------------------------------------
// Composition of runs.

absl::Status ValidateRuns(std::span<const MechanismRun> runs) {
  for (const MechanismRun& r : runs) {
    FEDREC_RETURN_IF_ERROR(ValidateSamplingRate(r.q, "q"));
    FEDREC_RETURN_IF_ERROR(ValidateNoiseMultiplier(r.sigma, "sigma"));
    FEDREC_RETURN_IF_ERROR(ValidateSteps(r.steps, "steps"));
    if (r.scheme != SamplingScheme::kPoisson) {
      return absl::FailedPreconditionError(
          "privacy: the PLD accountant covers Poisson sampling (add/remove-one adjacency) only; "
          "a fixed-size cohort (sampling without replacement) has no PLD here (nor in "
          "dp_accounting 0.6.0): account it with the RDP accountant (replace-one adjacency)");
    }
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------
// PldPmf

PldPmf::PldPmf(double interval, int64_t lower, std::vector<double> probs, double infinity_mass)
    : interval_(interval), lower_(lower), probs_(std::move(probs)), infinity_mass_(infinity_mass) {}

PldPmf PldPmf::Identity(double interval) { return PldPmf(interval, 0, {1.0}, 0.0); }

PldPmf PldPmf::Compose(const PldPmf& other, double tail_mass_truncation) const {
  std::vector<double> conv;
  if (probs_.size() == 1 || other.probs_.size() == 1) {
    // A point mass: the convolution is a scaled copy (exact).
    const bool self_point = probs_.size() == 1;
    const double scale = self_point ? probs_[0] : other.probs_[0];
    conv = self_point ? other.probs_ : probs_;
    for (double& p : conv) p *= scale;
  } else {
    const int64_t n = static_cast<int64_t>(probs_.size() + other.probs_.size() - 1);
    const int64_t length = FastFftLength(n);
    Eigen::FFT<double> fft;
    fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
    Spectrum a = RealFft(fft, probs_, length);
    const Spectrum b = RealFft(fft, other.probs_, length);
    for (size_t k = 0; k < a.size(); ++k) a[k] *= b[k];
    conv = InverseRealFft(fft, a);
    conv.resize(static_cast<size_t>(n));
  }
  Truncated t = TruncateTails(std::move(conv), tail_mass_truncation);
  const double inf = infinity_mass_ + other.infinity_mass_ - infinity_mass_ * other.infinity_mass_;
  return PldPmf(interval_, lower_ + other.lower_ + t.offset, std::move(t.probs),
                inf + t.right_mass);
}

absl::StatusOr<PldPmf> PldPmf::SelfCompose(int64_t times, double tail_mass_truncation,
                                           int64_t max_size) const {
  if (times < 1) return absl::InvalidArgumentError("privacy: pld: times must be >= 1");
  if (times == 1) return *this;
  const int64_t n = static_cast<int64_t>(probs_.size());
  const double t = static_cast<double>(times);

  // Window [lo, hi] of the T-fold sum of indices holding all but
  // tail_mass_truncation of the mass, by Chernoff bounds at 40 orders
  // (dp_accounting's compute_self_convolve_bounds): for order r,
  //   P(S >= b) <= E[e^(r S)] e^(-r b) = exp(T log_mgf(r) - r b).
  // Half the tail on each side.
  double hi_d = static_cast<double>(n - 1) * t;
  double lo_d = 0;
  if (tail_mass_truncation > 0) {
    for (int k = -20; k <= 20; ++k) {
      if (k == 0) continue;
      const double order = static_cast<double>(k) / static_cast<double>(n);
      // log sum_i p_i e^(order i), shifted by the largest exponent.
      const double shift = order > 0 ? order * static_cast<double>(n - 1) : 0.0;
      double sum = 0;
      double factor = 1;
      const double step = std::exp(order);
      for (int64_t i = 0; i < n; ++i) {
        if ((i & 255) == 0) factor = std::exp(order * static_cast<double>(i) - shift);
        sum += probs_[static_cast<size_t>(i)] * factor;
        factor *= step;
      }
      const double log_mgf = std::log(sum) + shift;
      const double bound = (t * log_mgf + std::log(2 / tail_mass_truncation)) / order;
      if (!std::isfinite(bound)) continue;
      if (order > 0) hi_d = std::min(hi_d, std::ceil(bound));
      if (order < 0) lo_d = std::max(lo_d, std::floor(bound));
    }
  }
  if (hi_d < lo_d) hi_d = lo_d;
  const double out_len_d = hi_d - lo_d + 1;
  if (!(std::max(out_len_d, static_cast<double>(n)) <= static_cast<double>(max_size))) {
    return TooLarge(static_cast<int64_t>(std::min(out_len_d, 9e18)), max_size, interval_);
  }
  const int64_t lo = static_cast<int64_t>(lo_d);
  const int64_t out_len = static_cast<int64_t>(out_len_d);
  const int64_t length = FastFftLength(std::max(out_len, n));

  // The spectrum to the power T is the T-fold circular convolution; the
  // window has length <= the transform, so aliasing only folds the
  // <= tail_mass_truncation outside it back in (counted in +inf below).
  Eigen::FFT<double> fft;
  fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
  Spectrum spectrum = RealFft(fft, probs_, length);
  for (std::complex<double>& c : spectrum) c = std::pow(c, t);
  const std::vector<double> circular = InverseRealFft(fft, spectrum);
  std::vector<double> out(static_cast<size_t>(out_len));
  for (int64_t j = 0; j < out_len; ++j) {
    out[static_cast<size_t>(j)] = circular[static_cast<size_t>((j + lo) % length)];
  }
  // +inf mass: 1 - (1 - inf)^T, plus what the window left out.
  const double inf = tail_mass_truncation - std::expm1(t * std::log1p(-infinity_mass_));
  return PldPmf(interval_, lower_ * times + lo, std::move(out), inf);
}

double PldPmf::DeltaForEpsilon(double epsilon) const {
  double delta = infinity_mass_;
  for (size_t i = 0; i < probs_.size(); ++i) {
    const double loss = static_cast<double>(lower_ + static_cast<int64_t>(i)) * interval_;
    if (loss > epsilon) delta += -std::expm1(epsilon - loss) * probs_[i];
  }
  return delta;
}

double PldPmf::EpsilonForDelta(double delta) const {
  // dp_accounting's _get_epsilon_for_delta: walk the losses downwards keeping
  // mass_upper = P_upper(L >= l) and mass_lower = P_lower(L >= l) = E[e^-L; L >= l];
  // delta(eps) = mass_upper - e^eps mass_lower on the segment where no loss
  // lies in (eps, l), so eps = log((mass_upper - delta) / mass_lower).
  if (infinity_mass_ > delta) return kInf;
  double mass_upper = infinity_mass_;
  double mass_lower = 0;
  for (int64_t i = static_cast<int64_t>(probs_.size()) - 1; i >= 0; --i) {
    const double loss = static_cast<double>(lower_ + i) * interval_;
    if (mass_upper > delta && mass_lower > 0 &&
        std::log((mass_upper - delta) / mass_lower) >= loss) {
      break;
    }
    const double p = probs_[static_cast<size_t>(i)];
    mass_upper += p;
    mass_lower += std::exp(-loss) * p;
    if (mass_upper >= delta && mass_lower == 0) return std::max(0.0, loss);
  }
  if (mass_upper <= mass_lower + delta) return 0;
  return std::log((mass_upper - delta) / mass_lower);
}

// ---------------------------------------------------------------------------

double PoissonGaussianHockeyStick(double q, double sigma, bool add, double epsilon) {
  return SubsampledGaussianLoss(q, sigma, add).Delta(epsilon);
}

absl::StatusOr<AddRemovePld> PoissonGaussianPld(double q, double sigma, const PldOptions& options) {
  FEDREC_RETURN_IF_ERROR(ValidateOptions(options));
  FEDREC_RETURN_IF_ERROR(ValidateSamplingRate(q, "q"));
  FEDREC_RETURN_IF_ERROR(ValidateNoiseMultiplier(sigma, "sigma"));
  if (q == 0) return InvalidInput("privacy: pld: q", "must be > 0");
  if (sigma == 0) return InvalidInput("privacy: pld: sigma", "must be > 0");
  FEDREC_ASSIGN_OR_RETURN(
      PldPmf remove,
      ConnectTheDots(SubsampledGaussianLoss(q, sigma, /*add=*/false), false, sigma, options));
  AddRemovePld out{std::move(remove), std::nullopt};
  if (q < 1) {
    FEDREC_ASSIGN_OR_RETURN(out.add, ConnectTheDots(SubsampledGaussianLoss(q, sigma, /*add=*/true),
                                                    true, sigma, options));
  }
  return out;
}

absl::StatusOr<ComposedPld> ComposedPld::Create(std::span<const MechanismRun> runs,
                                                const PldOptions& options) {
  FEDREC_RETURN_IF_ERROR(ValidateOptions(options));
  FEDREC_RETURN_IF_ERROR(ValidateRuns(runs));
  const double d = options.value_discretization_interval;
  const double tail = options.tail_mass_truncation;
  PldPmf acc_remove = PldPmf::Identity(d);
  std::optional<PldPmf> acc_add;

  // Merge runs of equal (q, sigma), keeping the order of first appearance.
  std::vector<MechanismRun> merged;
  for (const MechanismRun& r : runs) {
    if (r.q == 0 || r.steps == 0) continue;  // releases nothing about anyone
    if (r.sigma == 0) return ComposedPld(true, PldPmf::Identity(d), std::nullopt);
    auto it = std::find_if(merged.begin(), merged.end(),
                           [&](const MechanismRun& m) { return m.q == r.q && m.sigma == r.sigma; });
    if (it == merged.end()) {
      merged.push_back(r);
    } else {
      if (it->steps > std::numeric_limits<int64_t>::max() - r.steps) {
        return InvalidInput("privacy: steps", "total over the runs overflows int64");
      }
      it->steps += r.steps;
    }
  }

  for (const MechanismRun& r : merged) {
    FEDREC_ASSIGN_OR_RETURN(AddRemovePld one, PoissonGaussianPld(r.q, r.sigma, options));
    FEDREC_ASSIGN_OR_RETURN(PldPmf remove,
                            one.remove.SelfCompose(r.steps, tail, options.max_pmf_size));
    std::optional<PldPmf> add;
    if (one.add.has_value()) {
      FEDREC_ASSIGN_OR_RETURN(add, one.add->SelfCompose(r.steps, tail, options.max_pmf_size));
    }
    // A symmetric PLD's ADD side is its REMOVE side (dp_accounting's compose).
    if (acc_add.has_value() || add.has_value()) {
      const PldPmf& prev_add = acc_add.has_value() ? *acc_add : acc_remove;
      acc_add = prev_add.Compose(add.has_value() ? *add : remove, tail);
    }
    acc_remove = acc_remove.Compose(remove, tail);
  }
  return ComposedPld(false, std::move(acc_remove), std::move(acc_add));
}

absl::StatusOr<double> ComposedPld::Epsilon(double delta) const {
  FEDREC_RETURN_IF_ERROR(ValidateDelta(delta, "delta"));
  if (non_private_) return kInf;
  double eps = remove_.EpsilonForDelta(delta);
  if (add_.has_value()) eps = std::max(eps, add_->EpsilonForDelta(delta));
  return eps;
}

absl::StatusOr<double> ComposedPld::Delta(double epsilon) const {
  if (!(epsilon >= 0)) return InvalidInput("privacy: epsilon", "must be >= 0");
  if (non_private_) return 1.0;
  double delta = remove_.DeltaForEpsilon(epsilon);
  if (add_.has_value()) delta = std::max(delta, add_->DeltaForEpsilon(epsilon));
  return std::clamp(delta, 0.0, 1.0);
}

absl::StatusOr<double> PldEpsilon(std::span<const MechanismRun> runs, double delta,
                                  const PldOptions& options) {
  FEDREC_RETURN_IF_ERROR(ValidateDelta(delta, "delta"));
  FEDREC_ASSIGN_OR_RETURN(ComposedPld pld, ComposedPld::Create(runs, options));
  return pld.Epsilon(delta);
}

absl::StatusOr<double> PldDelta(std::span<const MechanismRun> runs, double epsilon,
                                const PldOptions& options) {
  if (!(epsilon >= 0)) return InvalidInput("privacy: epsilon", "must be >= 0");
  FEDREC_ASSIGN_OR_RETURN(ComposedPld pld, ComposedPld::Create(runs, options));
  return pld.Delta(epsilon);
}

absl::StatusOr<double> CalibrateNoiseMultiplierPld(double q, int64_t steps, double delta,
                                                   double target_epsilon,
                                                   const PldCalibrationOptions& options) {
  FEDREC_RETURN_IF_ERROR(ValidateSamplingRate(q, "q"));
  FEDREC_RETURN_IF_ERROR(ValidateSteps(steps, "steps"));
  FEDREC_RETURN_IF_ERROR(ValidateDelta(delta, "delta"));
  FEDREC_RETURN_IF_ERROR(ValidateEpsilon(target_epsilon, "epsilon"));
  FEDREC_RETURN_IF_ERROR(ValidateOptions(options.pld));
  const double rel_tol = options.rel_tol;
  if (!(rel_tol > 0 && rel_tol < 1)) {
    return absl::InvalidArgumentError("privacy: rel_tol: must be in (0, 1)");
  }
  if (q == 0 || steps == 0) return 0.0;

  auto epsilon_at = [&](double sigma) -> absl::StatusOr<double> {
    const MechanismRun run{q, sigma, steps, SamplingScheme::kPoisson};
    return PldEpsilon(std::span<const MechanismRun>(&run, 1), delta, options.pld);
  };
  // Start from the RDP calibration: PLD epsilon is (up to discretisation)
  // below the RDP one, so its sigma nearly always satisfies the target.
  CalibrationOptions rdp;
  rdp.rel_tol = 1e-3;
  FEDREC_ASSIGN_OR_RETURN(double start,
                          CalibrateNoiseMultiplier(q, steps, delta, target_epsilon, rdp));
  return SmallestSigmaWithin(target_epsilon, start, rel_tol, /*halve_below=*/true, epsilon_at);
}

}  // namespace fedrec::privacy
