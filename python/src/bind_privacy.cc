// fedrec.privacy: the `fedrec privacy epsilon|sigma` queries (privacy/query.h).
#include "convert.h"
#include "privacy/query.h"

namespace fedrec::python {
namespace {

privacy::PrivacyQuery MakeQuery(double q, double sigma, int64_t steps, double delta, double epsilon,
                                std::string accountant, std::string sampling, double pld_interval) {
  privacy::PrivacyQuery query;
  query.q = q;
  query.sigma = sigma;
  query.steps = steps;
  query.delta = delta;
  query.epsilon = epsilon;
  query.accountant = std::move(accountant);
  query.sampling = std::move(sampling);
  query.pld_interval = pld_interval;
  return query;
}

// The report of one query; the accountant runs without the GIL (a PLD
// calibration takes seconds).
py::object Report(const privacy::PrivacyQuery& query, bool sigma_query) {
  absl::StatusOr<privacy::PrivacyAnswer> answer;
  {
    py::gil_scoped_release release;
    answer = sigma_query ? privacy::QuerySigma(query) : privacy::QueryEpsilon(query);
  }
  return JsonToPython(privacy::PrivacyReportJson(query, Unwrap(std::move(answer)), sigma_query));
}

}  // namespace

void BindPrivacy(py::module_& m) {
  using namespace pybind11::literals;
  m.def(
      "privacy_epsilon",
      [](double q, double sigma, int64_t steps, double delta, std::string accountant,
         std::string sampling, double pld_interval) {
        return Report(MakeQuery(q, sigma, steps, delta, -1, std::move(accountant),
                                std::move(sampling), pld_interval),
                      /*sigma_query=*/false);
      },
      "q"_a, "sigma"_a, "steps"_a, "delta"_a, "accountant"_a = "rdp", "sampling"_a = "poisson",
      "pld_interval"_a = 1e-4,
      "The JSON report of `fedrec privacy epsilon` as a dict (epsilon +inf, not null).");
  m.def(
      "privacy_sigma",
      [](double q, int64_t steps, double delta, double epsilon, std::string accountant,
         std::string sampling, double pld_interval) {
        return Report(MakeQuery(q, -1, steps, delta, epsilon, std::move(accountant),
                                std::move(sampling), pld_interval),
                      /*sigma_query=*/true);
      },
      "q"_a, "steps"_a, "delta"_a, "epsilon"_a, "accountant"_a = "rdp", "sampling"_a = "poisson",
      "pld_interval"_a = 1e-4, "The JSON report of `fedrec privacy sigma` as a dict.");
}

}  // namespace fedrec::python
