// fedrec.data: `fedrec data stats` and `fedrec data synth` (data/).
#include <chrono>
#include <filesystem>
#include <limits>
#include <string>

#include "convert.h"
#include "data/loader.h"
#include "data/stats.h"
#include "data/synth.h"

namespace fedrec::python {
namespace {

// As apps/data_commands.cc RunStats: the statistics plus the input path.
absl::StatusOr<nlohmann::json> Stats(const std::string& path, const LoadArgs& args) {
  FEDREC_ASSIGN_OR_RETURN(LoadOptions options, ToLoadOptions(args));
  FEDREC_ASSIGN_OR_RETURN(Dataset dataset, LoadDataset(path, options));
  nlohmann::json j = ToJson(ComputeStats(dataset));
  j["input"] = path;
  return j;
}

// As apps/data_commands.cc RunSynth: what was written and how long it took.
absl::StatusOr<nlohmann::json> Synth(const SynthOptions& options, const std::string& out) {
  const auto start = std::chrono::steady_clock::now();
  FEDREC_RETURN_IF_ERROR(WriteSyntheticDataset(options, out));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json j;
  j["out"] = out;
  j["users"] = options.users;
  j["items"] = options.items;
  j["seed"] = options.seed;
  j["bytes"] = std::filesystem::file_size(out);
  j["seconds"] = seconds;
  return j;
}

}  // namespace

void BindData(py::module_& m) {
  using namespace pybind11::literals;
  m.def(
      "data_stats",
      [](std::string path, std::string format, int64_t min_count, int64_t kcore, bool dedupe,
         bool use_cache, std::string cache_dir, std::string csv_columns, std::string csv_delimiter,
         bool csv_header) {
        const LoadArgs args{std::move(format),
                            min_count,
                            kcore,
                            dedupe,
                            use_cache,
                            std::move(cache_dir),
                            std::move(csv_columns),
                            std::move(csv_delimiter),
                            csv_header};
        absl::StatusOr<nlohmann::json> j;
        {
          py::gil_scoped_release release;
          j = Stats(path, args);
        }
        return JsonToPython(Unwrap(std::move(j)));
      },
      "path"_a, "format"_a = "auto", "min_count"_a = 0, "kcore"_a = 0, "dedupe"_a = false,
      "use_cache"_a = true, "cache_dir"_a = "", "csv_columns"_a = "0,1", "csv_delimiter"_a = ",",
      "csv_header"_a = true, "The JSON of `fedrec data stats` as a dict.");

  m.def(
      "data_synth",
      [](const std::string& out, int64_t users, int64_t items, uint64_t seed, int64_t clusters,
         double zipf, int64_t interests, double interest_alpha, double p_markov, int64_t successors,
         double mean_length, double length_sigma, int64_t min_length, int64_t max_length,
         int threads) {
        SynthOptions o;
        o.users = Unwrap(ToU32(users, "synth: users"));
        o.items = Unwrap(ToU32(items, "synth: items"));
        o.seed = seed;
        o.clusters = Unwrap(ToU32(clusters, "synth: clusters"));
        o.zipf_exponent = zipf;
        o.interests_per_user = Unwrap(ToU32(interests, "synth: interests"));
        o.interest_alpha = interest_alpha;
        o.p_markov = p_markov;
        o.successors = Unwrap(ToU32(successors, "synth: successors"));
        o.mean_length = mean_length;
        o.length_sigma = length_sigma;
        o.min_length = Unwrap(ToU32(min_length, "synth: min_length"));
        o.max_length = Unwrap(ToU32(max_length, "synth: max_length"));
        o.threads = threads;
        absl::StatusOr<nlohmann::json> j;
        {
          py::gil_scoped_release release;
          j = Synth(o, out);
        }
        return JsonToPython(Unwrap(std::move(j)));
      },
      "out"_a, "users"_a, "items"_a, "seed"_a, "clusters"_a, "zipf"_a, "interests"_a,
      "interest_alpha"_a, "p_markov"_a, "successors"_a, "mean_length"_a, "length_sigma"_a,
      "min_length"_a, "max_length"_a, "threads"_a,
      "Writes a synthetic dataset (`fedrec data synth`); returns its JSON as a dict.");
  // The generator's defaults, so that the Python signature shows the same.
  const SynthOptions d;
  py::dict defaults;
  defaults["users"] = d.users;
  defaults["items"] = d.items;
  defaults["seed"] = d.seed;
  defaults["clusters"] = d.clusters;
  defaults["zipf"] = d.zipf_exponent;
  defaults["interests"] = d.interests_per_user;
  defaults["interest_alpha"] = d.interest_alpha;
  defaults["p_markov"] = d.p_markov;
  defaults["successors"] = d.successors;
  defaults["mean_length"] = d.mean_length;
  defaults["length_sigma"] = d.length_sigma;
  defaults["min_length"] = d.min_length;
  defaults["max_length"] = d.max_length;
  defaults["threads"] = d.threads;
  m.attr("SYNTH_DEFAULTS") = defaults;
}

}  // namespace fedrec::python
