#include "privacy/rdp.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <utility>

namespace fedrec::privacy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// log(exp(x) + exp(y)), stable (log-sum-exp of two terms).
double LogAdd(double x, double y) {
  const double a = std::min(x, y);
  const double b = std::max(x, y);
  if (a == -kInf) return b;
  return std::log1p(std::exp(a - b)) + b;
}

// log|binom(n, k)| for real n, integer k >= 0, via log|Gamma| (std::lgamma
// returns log|Gamma(x)|, as scipy's gammaln).
double LogComb(double n, double k) {
  return std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1);
}

// log(erfc(x)), accurate for large x: where erfc underflows, the asymptotic
// expansion erfc(x) ~ exp(-x^2) / (x sqrt(pi)) * (1 - 1/(2x^2) + 3/(4x^4) ...)
// in log form, as TF Privacy's _log_erfc fallback.
double LogErfc(double x) {
  const double r = std::erfc(x);
  if (r > 0.0) return std::log(r);
  return -std::log(M_PI) / 2 - std::log(x) - x * x - 0.5 / (x * x) + 0.625 / std::pow(x, 4) -
         37.0 / 24.0 / std::pow(x, 6) + 353.0 / 64.0 / std::pow(x, 8);
}

// log(A_alpha) for integer alpha, 0 < q < 1 [MTZ19, Sec. 3.3, Eq. (6)]:
//   A_alpha = sum_{i=0}^{alpha} binom(alpha, i) (1-q)^{alpha-i} q^i
//             * exp((i^2 - i) / (2 sigma^2)),
// summed in log space (log-sum-exp).
double LogAInt(double q, double sigma, int alpha) {
  double log_a = -kInf;
  const double log_q = std::log(q);
  const double log1mq = std::log1p(-q);
  for (int i = 0; i <= alpha; ++i) {
    const double log_coef = LogComb(alpha, i) + i * log_q + (alpha - i) * log1mq;
    const double s = log_coef + (static_cast<double>(i) * i - i) / (2 * sigma * sigma);
    log_a = LogAdd(log_a, s);
  }
  return log_a;
}

// log(A_alpha) for fractional alpha, 0 < q < 1 [MTZ19, Sec. 3.3, the two
// series A_alpha = A_0 + A_1 split at z0 = sigma^2 log(1/q - 1) + 1/2]:
//   A_0 = sum_i binom(alpha, i) q^i (1-q)^{alpha-i} exp((i^2-i)/(2 sigma^2))
//         * erfc((i - z0) / (sqrt(2) sigma)) / 2,
//   A_1 = sum_i binom(alpha, i) q^{alpha-i} (1-q)^i exp((j^2-j)/(2 sigma^2))
//         * erfc((z0 - j) / (sqrt(2) sigma)) / 2,   j = alpha - i.
// As dp_accounting 0.6.0's _compute_log_a_frac, terms are added with
// |binom(alpha, i)| (log|Gamma|): an upper bound on the signed series, so a
// conservative RDP; it stops once both series decrease and their terms fall
// below exp(-30) of the total, and gives +inf (the order is then useless)
// after 1000 terms without converging.
double LogAFrac(double q, double sigma, double alpha) {
  double log_a0 = -kInf;
  double log_a1 = -kInf;
  const double z0 = sigma * sigma * std::log(1 / q - 1) + 0.5;
  const double log_q = std::log(q);
  const double log1mq = std::log1p(-q);
  double last_s0 = -kInf;
  double last_s1 = -kInf;
  for (int i = 0; i < 1000; ++i) {
    const double log_coef = LogComb(alpha, i);
    const double j = alpha - i;
    const double log_t0 = log_coef + i * log_q + j * log1mq;
    const double log_t1 = log_coef + j * log_q + i * log1mq;
    const double log_e0 = std::log(0.5) + LogErfc((i - z0) / (std::sqrt(2.0) * sigma));
    const double log_e1 = std::log(0.5) + LogErfc((z0 - j) / (std::sqrt(2.0) * sigma));
    const double log_s0 = log_t0 + (static_cast<double>(i) * i - i) / (2 * sigma * sigma) + log_e0;
    const double log_s1 = log_t1 + (j * j - j) / (2 * sigma * sigma) + log_e1;
    log_a0 = LogAdd(log_a0, log_s0);
    log_a1 = LogAdd(log_a1, log_s1);
    const double total = LogAdd(log_a0, log_a1);
    if (log_s0 < last_s0 && log_s1 < last_s1 && std::max(log_s0, log_s1) < total - 30) {
      return total;
    }
    last_s0 = log_s0;
    last_s1 = log_s1;
  }
  return kInf;
}

// ---- Sampling without replacement (fixed-size cohorts) [WBK19] ----

// log|exp(x) - exp(y)| and its sign (true: non-negative), as dp_accounting's
// _log_sub_sign.
std::pair<bool, double> LogSubSign(double logx, double logy) {
  if (logx > logy) return {true, logx + std::log1p(-std::exp(logy - logx))};
  if (logx < logy) return {false, logy + std::log1p(-std::exp(logx - logy))};
  return {true, -kInf};
}

// Replaces vec[0..n-1] by the log-magnitudes (and signs) of the forward
// differences vec[j+1] - vec[j] of the signed numbers (signs, exp(vec)), as
// dp_accounting's _stable_inplace_diff_in_log.
void StableInplaceDiffInLog(std::vector<double>& vec, std::vector<bool>& signs, int n) {
  for (int j = 0; j < n; ++j) {
    if (signs[j] == signs[j + 1]) {
      const auto [s, mag] = LogSubSign(vec[j + 1], vec[j]);
      signs[j] = signs[j + 1] ? s : !s;
      vec[j] = mag;
    } else {
      vec[j] = LogAdd(vec[j], vec[j + 1]);
      signs[j] = signs[j + 1];
    }
  }
}

// log|Delta^i| of exp(cgf) at 0 for i = 0..n+1 [WBK19, Thm. 27], as
// dp_accounting's _get_forward_diffs (magnitudes only).
std::vector<double> ForwardDiffs(double sigma, int n) {
  auto cgf = [sigma](double x) { return x * (x + 1) / (2.0 * sigma * sigma); };
  std::vector<double> func(n + 3, 0.0);
  std::vector<bool> signs(n + 3, true);
  for (int i = 1; i < n + 3; ++i) func[i] = cgf(i - 1.0);
  std::vector<double> deltas(n + 2);
  for (int i = 0; i < n + 2; ++i) {
    StableInplaceDiffInLog(func, signs, n + 2 - i);
    deltas[i] = func[0];
  }
  return deltas;
}

// (alpha - 1) * RDP at integer alpha of the Gaussian mechanism on a uniformly
// random subset of size m = q n, replace-one adjacency: the bound of [WBK19,
// Thm. 27] (with the subsampled-Gaussian strengthening of its Sec. 3.3),
//   log(1 + q^2 binom(alpha, 2) min(4 (e^{eps(2)} - 1), 2 e^{eps(2)})
//       + sum_{j>=3} q^j binom(alpha, j) min(4 sqrt(D^{2 floor(j/2)} D^{2 ceil(j/2)}),
//                                             2 e^{(j-1) eps(j)})),
// with eps(a) = a / (2 sigma^2) the Gaussian RDP and D the forward differences
// of exp((a-1) eps(a)); above order 256 only the second argument of the min
// (O(alpha), dp_accounting's cut-off). As dp_accounting's
// _compute_rdp_sample_wor_gaussian_int.
double WorLogAInt(double q, double sigma, int alpha) {
  constexpr int kMaxAlpha = 256;
  if (alpha == 1) return 0;
  auto cgf = [sigma](double x) { return x * (x + 1) / (2.0 * sigma * sigma); };
  auto func = [sigma](double x) { return x / (2.0 * sigma * sigma); };
  double log_a = 0;  // log(1)
  const double log_f2m1 = func(2.0) + std::log1p(-std::exp(-func(2.0)));
  const double log_q = std::log(q);
  const double term2 =
      2 * log_q + LogComb(alpha, 2) + std::min(std::log(4.0) + log_f2m1, func(2.0) + std::log(2.0));
  if (alpha <= kMaxAlpha) {
    const std::vector<double> deltas = ForwardDiffs(sigma, alpha);
    for (int i = 2; i <= alpha; ++i) {
      double s;
      if (i == 2) {
        s = term2;
      } else {
        const double delta_lo = deltas[2 * (i / 2) - 1];
        const double delta_hi = deltas[2 * ((i + 1) / 2) - 1];
        s = std::log(4.0) + 0.5 * (delta_lo + delta_hi);
        s = std::min(s, std::log(2.0) + cgf(i - 1));
        s += i * log_q + LogComb(alpha, i);
      }
      log_a = LogAdd(log_a, s);
    }
  } else {
    for (int i = 2; i <= alpha; ++i) {
      const double s = i == 2 ? term2 : std::log(2.0) + cgf(i - 1) + i * log_q + LogComb(alpha, i);
      log_a = LogAdd(log_a, s);
    }
  }
  return log_a;
}

std::string Num(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

absl::Status Bad(const std::string& name, const std::string& what, double got) {
  return InvalidInput("privacy: " + name, what + " (got " + Num(got) + ")");
}

}  // namespace

std::vector<double> DefaultRdpOrders() {
  std::vector<double> orders;
  for (int x = 1; x < 100; ++x) orders.push_back(1 + x / 10.0);
  for (int a = 11; a < 64; ++a) orders.push_back(a);
  for (double a : {128.0, 256.0, 512.0, 1024.0}) orders.push_back(a);
  return orders;
}

std::vector<double> TfPrivacyTutorialOrders() {
  std::vector<double> orders;
  for (int x = 1; x < 100; ++x) orders.push_back(1 + x / 10.0);
  for (int a = 12; a < 64; ++a) orders.push_back(a);
  return orders;
}

// RDP of one step [MTZ19, Thm. 5 / Sec. 3.3]: eps(alpha) = log(A_alpha) / (alpha - 1);
// q = 1 is the plain Gaussian mechanism [M17, Prop. 7]: alpha / (2 sigma^2).
double PoissonSubsampledGaussianRdp(double q, double sigma, double alpha) {
  if (q == 0) return 0;
  if (std::isinf(alpha) || sigma == 0) return kInf;
  if (q == 1.0) return alpha / (2 * sigma * sigma);
  const double log_a = (alpha == std::floor(alpha) && alpha < 1e9)
                           ? LogAInt(q, sigma, static_cast<int>(alpha))
                           : LogAFrac(q, sigma, alpha);
  return log_a / (alpha - 1);
}

std::vector<double> PoissonSubsampledGaussianRdp(double q, double sigma,
                                                 const std::vector<double>& orders) {
  std::vector<double> rdp;
  rdp.reserve(orders.size());
  for (double a : orders) rdp.push_back(PoissonSubsampledGaussianRdp(q, sigma, a));
  return rdp;
}

// RDP at order alpha of the sampled-without-replacement Gaussian [WBK19]:
// integer orders by Thm. 27, fractional orders by linear interpolation of the
// CGF (alpha - 1) eps(alpha) between floor and ceil [WBK19, Cor. 10].
double WithoutReplacementGaussianRdp(double q, double sigma, double alpha) {
  if (q == 0) return 0;
  if (sigma == 0 || std::isinf(alpha)) return kInf;
  if (q == 1.0) return alpha / (2 * sigma * sigma);
  if (alpha == std::floor(alpha)) {
    return WorLogAInt(q, sigma, static_cast<int>(alpha)) / (alpha - 1);
  }
  const double lo = std::floor(alpha);
  const double hi = std::ceil(alpha);
  const double x = WorLogAInt(q, sigma, static_cast<int>(lo));
  const double y = WorLogAInt(q, sigma, static_cast<int>(hi));
  const double t = alpha - lo;
  return ((1 - t) * x + t * y) / (alpha - 1);
}

std::vector<double> WithoutReplacementGaussianRdp(double q, double sigma,
                                                  const std::vector<double>& orders) {
  std::vector<double> rdp;
  rdp.reserve(orders.size());
  for (double a : orders) rdp.push_back(WithoutReplacementGaussianRdp(q, sigma, a));
  return rdp;
}

absl::StatusOr<std::vector<double>> SubsampledGaussianRdp(SamplingScheme scheme, double q,
                                                          double sigma,
                                                          const std::vector<double>& orders) {
  FEDREC_RETURN_IF_ERROR(ValidateSamplingRate(q, "q"));
  FEDREC_RETURN_IF_ERROR(ValidateNoiseMultiplier(sigma, "sigma"));
  if (scheme == SamplingScheme::kFixedSize) return WithoutReplacementGaussianRdp(q, sigma, orders);
  return PoissonSubsampledGaussianRdp(q, sigma, orders);
}

absl::Status ValidateSamplingRate(double q, const std::string& name) {
  if (!(q >= 0 && q <= 1)) return Bad(name, "must be in [0, 1]", q);
  return absl::OkStatus();
}
absl::Status ValidateNoiseMultiplier(double sigma, const std::string& name) {
  if (!(sigma >= 0 && std::isfinite(sigma))) return Bad(name, "must be finite and >= 0", sigma);
  return absl::OkStatus();
}
absl::Status ValidateSteps(int64_t steps, const std::string& name) {
  if (steps < 0) return Bad(name, "must be >= 0", static_cast<double>(steps));
  return absl::OkStatus();
}
absl::Status ValidateDelta(double delta, const std::string& name) {
  if (!(delta > 0 && delta < 1)) return Bad(name, "must be in (0, 1)", delta);
  return absl::OkStatus();
}
absl::Status ValidateEpsilon(double epsilon, const std::string& name) {
  if (!(epsilon > 0 && std::isfinite(epsilon))) return Bad(name, "must be finite and > 0", epsilon);
  return absl::OkStatus();
}

namespace {

absl::Status CheckRdpInputs(const std::vector<double>& orders, const std::vector<double>& rdp) {
  if (orders.size() != rdp.size()) {
    return absl::InvalidArgumentError("privacy: orders and rdp must have the same length");
  }
  if (orders.empty()) return absl::InvalidArgumentError("privacy: no RDP orders");
  for (double a : orders) {
    if (!(a >= 1)) return Bad("orders", "must all be >= 1", a);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EpsilonAndOrder> EpsilonFromRdp(const std::vector<double>& orders,
                                               const std::vector<double>& rdp, double delta) {
  FEDREC_RETURN_IF_ERROR(ValidateDelta(delta, "delta"));
  FEDREC_RETURN_IF_ERROR(CheckRdpInputs(orders, rdp));
  EpsilonAndOrder best{kInf, orders[0]};
  for (size_t k = 0; k < orders.size(); ++k) {
    const double a = orders[k];
    const double r = rdp[k];
    double eps;
    if (r < 0) {
      eps = 0.0;  // numerical noise from extreme events (dp_accounting's guard)
    } else if (delta * delta + std::expm1(-r) > 0) {
      // delta >= sqrt(1 - exp(-r)): the KL/Pinsker-type bound already gives
      // epsilon = 0 at this delta (dp_accounting's guard).
      eps = 0;
    } else if (a > 1.01) {
      // [BBGHS20, Thm. 21; CKS20, Prop. 12]:
      //   eps = r + log(1 - 1/alpha) - log(delta * alpha) / (alpha - 1).
      eps = r + std::log1p(-1 / a) - std::log(delta * a) / (a - 1);
    } else {
      eps = kInf;  // the bound is numerically unstable as alpha -> 1
    }
    if (eps < best.epsilon) best = {eps, a};  // first minimum, as np.argmin
  }
  best.epsilon = std::max(0.0, best.epsilon);
  return best;
}

absl::StatusOr<EpsilonAndOrder> EpsilonFromRdpClassic(const std::vector<double>& orders,
                                                      const std::vector<double>& rdp,
                                                      double delta) {
  FEDREC_RETURN_IF_ERROR(ValidateDelta(delta, "delta"));
  FEDREC_RETURN_IF_ERROR(CheckRdpInputs(orders, rdp));
  EpsilonAndOrder best{kInf, orders[0]};
  for (size_t k = 0; k < orders.size(); ++k) {
    const double a = orders[k];
    if (a <= 1) continue;
    // [M17, Prop. 3]: (alpha, r)-RDP implies (r + log(1/delta)/(alpha-1), delta)-DP.
    const double eps = rdp[k] - std::log(delta) / (a - 1);
    if (eps < best.epsilon) best = {eps, a};
  }
  best.epsilon = std::max(0.0, best.epsilon);
  return best;
}

absl::StatusOr<DeltaAndOrder> DeltaFromRdp(const std::vector<double>& orders,
                                           const std::vector<double>& rdp, double epsilon) {
  if (!(epsilon >= 0)) return Bad("epsilon", "must be >= 0", epsilon);
  FEDREC_RETURN_IF_ERROR(CheckRdpInputs(orders, rdp));
  double best_log_delta = kInf;
  double best_order = orders[0];
  for (size_t k = 0; k < orders.size(); ++k) {
    const double a = orders[k];
    const double r = rdp[k];
    // KL bound delta <= sqrt(1 - exp(-r)) (dp_accounting's compute_delta).
    double log_delta = r <= 0 ? -kInf : 0.5 * std::log1p(-std::exp(-r));
    if (a > 1.01) {
      // [CKS20, Prop. 12]: delta = exp((alpha-1)(r - eps + log(1-1/alpha))) / alpha.
      const double rdp_bound = (a - 1) * (r - epsilon + std::log1p(-1 / a)) - std::log(a);
      log_delta = std::min(log_delta, rdp_bound);
    }
    if (log_delta < best_log_delta) {
      best_log_delta = log_delta;
      best_order = a;
    }
  }
  return DeltaAndOrder{std::min(std::exp(best_log_delta), 1.0), best_order};
}

}  // namespace fedrec::privacy
