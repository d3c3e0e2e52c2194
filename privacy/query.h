// The `fedrec privacy epsilon|sigma` queries as functions: one place for
// their validation, computation and JSON report, shared by the command line
// (apps/privacy_command.cc) and the Python package (python/), so that both
// give the same numbers and the same error messages.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"
#include "privacy/rdp.h"

namespace fedrec::privacy {

// The arguments of a query; -1 marks "not given" (every check refuses it).
// Error messages name the arguments by their command-line flags ("--q: ...").
struct PrivacyQuery {
  double q = -1;
  double sigma = -1;  // epsilon queries
  int64_t steps = -1;
  double delta = -1;
  double epsilon = -1;               // sigma queries: the target
  std::string accountant = "rdp";    // rdp | pld
  std::string sampling = "poisson";  // poisson | fixed-size
  double pld_interval = 1e-4;        // PLD value discretization interval
};

struct PrivacyAnswer {
  double sigma = 0;    // the given one (epsilon) or the calibrated one (sigma)
  double epsilon = 0;  // at that sigma; +inf when sigma = 0 spends anything
  double order = 0;    // RDP: the optimal order; PLD: 0 (it has none)
};

// Epsilon of `steps` rounds of the subsampled Gaussian (q, sigma) at delta.
absl::StatusOr<PrivacyAnswer> QueryEpsilon(const PrivacyQuery& query);
// The smallest sigma reaching the target epsilon, and its epsilon.
absl::StatusOr<PrivacyAnswer> QuerySigma(const PrivacyQuery& query);

// The JSON object the command prints: accountant, q, sigma, steps, delta,
// epsilon (null for +inf), order (null for PLD), the PLD interval, sampling,
// adjacency; sigma queries add target_epsilon.
nlohmann::json PrivacyReportJson(const PrivacyQuery& query, const PrivacyAnswer& answer,
                                 bool sigma_query);

}  // namespace fedrec::privacy
