// fedrec.train: `fedrec train` (coordinator/central_trainer.h,
// federated_trainer.h) with the GIL released for the whole run.
#include <pybind11/stl.h>

#include <filesystem>
#include <string>
#include <vector>

#include "comm/mpi_collective.h"
#include "convert.h"
#include "coordinator/central_trainer.h"
#include "coordinator/federated_trainer.h"
#include "core/config.h"
#include "core/logging.h"

namespace fedrec::python {
namespace {

struct TrainArgs {
  std::string config;  // TOML file; empty: defaults
  std::vector<std::string> overrides;
  std::string out;
  bool resume = false;
  bool quiet = false;
};

// The configuration of a run, as apps/train_command.cc resolves it (a copy
// of its ResolveTrainConfig, which lives in the CLI's executable; the two
// should move into coordinator/ together once the trainer refactor lands).
absl::StatusOr<Config> ResolveConfig(const TrainArgs& args) {
  if (!args.resume) return LoadConfig(args.config, args.overrides);
  const std::string stored = args.out + "/config.toml";
  if (!std::filesystem::exists(stored)) {
    return absl::NotFoundError(args.out + ": not a run directory (no config.toml) to resume");
  }
  FEDREC_ASSIGN_OR_RETURN(Config config, LoadConfig(stored));
  if (!args.config.empty() || !args.overrides.empty()) {
    FEDREC_ASSIGN_OR_RETURN(Config given, LoadConfig(args.config, args.overrides));
    if (ToToml(given) != ToToml(config)) {
      return absl::InvalidArgumentError(
          "train --resume: the given configuration differs from " + stored +
          "; resume with the run's own configuration (omit --config/--set)");
    }
  }
  return config;
}

absl::StatusOr<nlohmann::json> Train(const TrainArgs& args) {
  FEDREC_ASSIGN_OR_RETURN(Config config, ResolveConfig(args));
  const TrainRunOptions run{.out_dir = args.out, .resume = args.resume, .quiet = args.quiet};
  if (config.federation.mode == "federated") return RunFederatedTraining(config, run);
  if (LaunchedUnderMpirun() && MpirunWorldSize() > 1) {
    return absl::InvalidArgumentError(
        "train: federation.mode = \"central\" runs in one process; start it without mpirun");
  }
  return RunCentralTraining(config, run);
}

}  // namespace

void BindTrain(py::module_& m) {
  using namespace pybind11::literals;
  m.def(
      "train",
      [](std::string config, std::vector<std::string> overrides, std::string out, bool resume,
         bool quiet) {
        const TrainArgs args{std::move(config), std::move(overrides), std::move(out), resume,
                             quiet};
        absl::StatusOr<nlohmann::json> summary;
        {
          // Training takes minutes and runs its own threads; none of them
          // touches Python objects.
          py::gil_scoped_release release;
          summary = Train(args);
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
