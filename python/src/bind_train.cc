// fedrec.train: `fedrec train` (coordinator/train.h) with the GIL released
// for the whole run.
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "convert.h"
#include "coordinator/train.h"
#include "core/config.h"
#include "core/logging.h"

namespace fedrec::python {

void BindTrain(py::module_& m) {
  using namespace pybind11::literals;
  m.def(
      "train",
      [](std::string config, std::vector<std::string> overrides, std::string out, bool resume,
         bool quiet) {
        const TrainRequest request{
            .config_path = std::move(config),
            .overrides = std::move(overrides),
            .run = {.out_dir = std::move(out), .resume = resume, .quiet = quiet}};
        absl::StatusOr<nlohmann::json> summary;
        {
          // Training takes minutes and runs its own threads; none of them
          // touches Python objects.
          py::gil_scoped_release release;
          summary = RunTraining(request);
        }
        return JsonToPython(Unwrap(std::move(summary)));
      },
      "config"_a, "overrides"_a, "out"_a, "resume"_a = false, "quiet"_a = false,
      "Runs `fedrec train`; returns summary.json's content (None on a non-zero MPI rank).");

  m.def(
      "set_log_level", [](const std::string& level) { Check(InitLogging(level)); }, "level"_a,
      "Sets the level of fedrec's log lines on stderr (trace ... off).");
  m.def(
      "resolve_config",
      [](const std::string& config, const std::vector<std::string>& overrides) {
        return ToToml(Unwrap(LoadConfig(config, overrides)));
      },
      "config"_a, "overrides"_a,
      "The fully resolved configuration as TOML (`fedrec config show`).");
}

}  // namespace fedrec::python
