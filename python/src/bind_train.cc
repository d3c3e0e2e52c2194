// fedrec.train and fedrec.sweep: `fedrec train` (coordinator/train.h) and
// `fedrec sweep` (coordinator/sweep.h) with the GIL released for the whole run.
#include <pybind11/stl.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "convert.h"
#include "coordinator/sweep.h"
#include "coordinator/train.h"
#include "core/config.h"
#include "core/interrupt.h"
#include "core/logging.h"

namespace fedrec::python {
namespace {

// Runs the training on its own thread with the GIL released (none of its
// threads touches Python objects) while this thread, every 100 ms, lets
// Python run its signal handlers. A KeyboardInterrupt (or any exception a
// handler raises) requests a stop: the run ends at the next round or epoch
// boundary with a checkpoint, and the exception is raised here afterwards,
// so the run directory is whole and `resume=True` continues it exactly.
absl::StatusOr<nlohmann::json> RunInterruptibly(
    const std::function<absl::StatusOr<nlohmann::json>()>& work) {
  ClearStopRequest();
  absl::StatusOr<nlohmann::json> summary;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
  {
    py::gil_scoped_release release;
    std::thread runner([&] {
      absl::StatusOr<nlohmann::json> result = work();
      std::lock_guard<std::mutex> lock(mu);
      summary = std::move(result);
      done = true;
      cv.notify_one();
    });
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return done; })) {
      lock.unlock();
      {
        py::gil_scoped_acquire acquire;
        if (type == nullptr && PyErr_CheckSignals() != 0) {
          PyErr_Fetch(&type, &value, &traceback);
          RequestStop();
        }
      }
      lock.lock();
    }
    lock.unlock();
    runner.join();
  }
  if (type != nullptr) {
    PyErr_Restore(type, value, traceback);
    throw py::error_already_set();
  }
  return summary;
}

}  // namespace

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
        absl::StatusOr<nlohmann::json> summary =
            RunInterruptibly([&request] { return RunTraining(request); });
        return JsonToPython(Unwrap(std::move(summary)));
      },
      "config"_a, "overrides"_a, "out"_a, "resume"_a = false, "quiet"_a = false,
      "Runs `fedrec train`; returns summary.json's content (None on a non-zero MPI rank). "
      "Ctrl-C stops it at the next round boundary with a checkpoint, then raises "
      "KeyboardInterrupt.");

  m.def(
      "sweep",
      [](const std::string& config, const std::vector<std::string>& overrides, std::string out,
         const std::string& epsilons, bool quiet) {
        const std::vector<double> targets = Unwrap(ParseEpsilons(epsilons));
        const Config base = Unwrap(LoadConfig(config, overrides));
        absl::StatusOr<nlohmann::json> rows = RunInterruptibly(
            [&] { return RunSweep(base, {.epsilons = targets, .out_dir = out, .quiet = quiet}); });
        return JsonToPython(Unwrap(std::move(rows)));
      },
      "config"_a, "overrides"_a, "out"_a, "epsilons"_a, "quiet"_a = false,
      "Runs `fedrec sweep`; returns sweep.csv's rows. Ctrl-C stops the current run at the next "
      "round boundary with a checkpoint, then raises KeyboardInterrupt; calling it again "
      "resumes the sweep.");
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
