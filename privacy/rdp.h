// Rényi differential privacy (RDP) of the sampled Gaussian mechanism and the
// conversions from RDP to (epsilon, delta)-DP.
//
// References:
//   [M17]   I. Mironov, "Rényi Differential Privacy", CSF 2017.
//   [MTZ19] I. Mironov, K. Talwar, L. Zhang, "Rényi Differential Privacy of the
//           Sampled Gaussian Mechanism", arXiv:1908.10530, 2019.
//   [BBGHS20] B. Balle, G. Barthe, M. Gaboardi, J. Hsu, T. Sato, "Hypothesis
//           Testing Interpretations and Renyi Differential Privacy", AISTATS 2020.
//   [CKS20] C. Canonne, G. Kamath, T. Steinke, "The Discrete Gaussian for
//           Differential Privacy", NeurIPS 2020.
//   [WBK19] Y.-X. Wang, B. Balle, S. Kasiviswanathan, "Subsampled Rényi
//           Differential Privacy and Analytical Moments Accountant", AISTATS 2019.
//
// The numerics follow Google's dp_accounting 0.6.0 (rdp_privacy_accountant.py)
// so that the values agree with it; the tests pin that agreement.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace fedrec::privacy {

// How the cohort of a round is drawn. Poisson: every user independently with
// probability q (the analysis of [MTZ19], add/remove-one adjacency). FixedSize:
// exactly m = q*N users without replacement; a different mechanism, not
// covered by the Poisson analysis: accounted by [WBK19], which (like
// dp_accounting) gives a guarantee under replace-one adjacency only.
enum class SamplingScheme { kPoisson, kFixedSize };

// Neighbouring datasets: differ by adding or removing one user's whole
// history (fedrec's privacy unit), or by replacing one user by another
// (N public). The Poisson analysis is add/remove-one; the fixed-size one
// replace-one; an accountant holds one and refuses the other.
enum class Adjacency { kAddRemoveOne, kReplaceOne };

// dp_accounting's DEFAULT_RDP_ORDERS: 1 + x/10 for x = 1..99, then 11..63,
// then 128, 256, 512, 1024.
std::vector<double> DefaultRdpOrders();

// The orders of the TF Privacy DP-SGD MNIST tutorial:
// [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)).
std::vector<double> TfPrivacyTutorialOrders();

// RDP at order `alpha` (> 1) of one step of the Poisson-subsampled Gaussian
// mechanism with sampling rate q in [0, 1] and noise multiplier sigma >= 0
// (noise std / L2 sensitivity). q = 0 gives 0, sigma = 0 gives +inf, q = 1
// gives alpha / (2 sigma^2). Can be +inf. No argument validation: callers
// validate (see ValidateSamplingRate etc.).
double PoissonSubsampledGaussianRdp(double q, double sigma, double alpha);

// The same over a list of orders.
std::vector<double> PoissonSubsampledGaussianRdp(double q, double sigma,
                                                 const std::vector<double>& orders);

// RDP at order alpha (> 1) of one step of the Gaussian mechanism applied to a
// uniformly random subset of m = q*N users (sampling without replacement),
// under REPLACE-ONE adjacency (N public) [WBK19, Thm. 27 and Cor. 10], as
// dp_accounting's _compute_rdp_sample_wor_gaussian. Note the adjacency: this
// is not the add/remove-one guarantee of the Poisson analysis.
double WithoutReplacementGaussianRdp(double q, double sigma, double alpha);
std::vector<double> WithoutReplacementGaussianRdp(double q, double sigma,
                                                  const std::vector<double>& orders);

// RDP of one step under `scheme` (Poisson: add/remove-one; FixedSize:
// replace-one). Validates q and sigma.
absl::StatusOr<std::vector<double>> SubsampledGaussianRdp(SamplingScheme scheme, double q,
                                                          double sigma,
                                                          const std::vector<double>& orders);

// Argument checks shared by the library and the command line: InvalidArgument
// "privacy: <name>: must be in [0, 1] (got 1.5)"; `name` is how the caller
// calls it ("q" in the library, "--q" on the command line). NaN is refused.
absl::Status ValidateSamplingRate(double q, const std::string& name);         // [0, 1]
absl::Status ValidateNoiseMultiplier(double sigma, const std::string& name);  // >= 0, finite
absl::Status ValidateSteps(int64_t steps, const std::string& name);           // >= 0
absl::Status ValidateDelta(double delta, const std::string& name);            // (0, 1)
absl::Status ValidateEpsilon(double epsilon, const std::string& name);        // > 0, finite

struct EpsilonAndOrder {
  double epsilon = 0;
  double order = 0;  // the order attaining the minimum
};
struct DeltaAndOrder {
  double delta = 0;
  double order = 0;
};

// Improved conversion [BBGHS20, Thm 21; CKS20, Prop. 12], as dp_accounting's
// compute_epsilon: eps = min over orders of
//   rdp - (log(delta) + log(alpha)) / (alpha - 1) + log((alpha - 1) / alpha).
// delta in (0, 1); orders and rdp of equal length, orders >= 1.
absl::StatusOr<EpsilonAndOrder> EpsilonFromRdp(const std::vector<double>& orders,
                                               const std::vector<double>& rdp, double delta);

// Classic conversion [M17, Prop. 3]: eps = min over orders of
//   rdp + log(1/delta) / (alpha - 1).
absl::StatusOr<EpsilonAndOrder> EpsilonFromRdpClassic(const std::vector<double>& orders,
                                                      const std::vector<double>& rdp, double delta);

// Delta for a given epsilon >= 0, as dp_accounting's compute_delta [CKS20,
// Prop. 12 / Eq. 13, with the KL bound for orders near 1].
absl::StatusOr<DeltaAndOrder> DeltaFromRdp(const std::vector<double>& orders,
                                           const std::vector<double>& rdp, double epsilon);

}  // namespace fedrec::privacy
