// fedrec.load: a checkpoint's model (spec, tensors, recommend) for Python.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "convert.h"
#include "coordinator/offline_eval.h"
#include "core/thread_pool.h"
#include "models/evaluation.h"
#include "models/recommend.h"
#include "proto/checkpoint.h"
#include "proto/local_shards.h"

namespace fedrec::python {
namespace {

py::dict SpecDict(const proto::ModelSpec& spec) {
  py::dict d;
  d["type"] = spec.type();
  d["dim"] = spec.dim();
  d["blocks"] = spec.blocks();
  d["heads"] = spec.heads();
  d["max_len"] = spec.max_len();
  d["num_items"] = spec.num_items();
  d["num_users"] = spec.num_users();
  py::dict extra;
  // A protobuf map iterates in no fixed order; sort for a stable dict.
  std::vector<std::pair<std::string, std::string>> entries(spec.extra().begin(),
                                                           spec.extra().end());
  std::sort(entries.begin(), entries.end());
  for (const auto& [k, v] : entries) extra[py::str(k)] = v;
  d["extra"] = extra;
  return d;
}

// Read-only float32 views of every tensor of `store`, without copying: the
// arrays' base is `owner` (the Python object holding the Recommender), which
// keeps the model's buffer alive as long as any array is.
void AddTensors(const ParameterStore& store, const std::string& prefix, py::handle owner,
                py::dict* out) {
  for (size_t k = 0; k < store.num_tensors(); ++k) {
    const TensorLayout& layout = store.layout()[k];
    const ConstTensorView view = store.ViewAt(k);
    py::array array(py::dtype::of<float>(),
                    {static_cast<py::ssize_t>(view.rows), static_cast<py::ssize_t>(view.cols)},
                    {static_cast<py::ssize_t>(view.cols * sizeof(float)),
                     static_cast<py::ssize_t>(sizeof(float))},
                    view.data, owner);
    array.attr("setflags")(py::arg("write") = false);
    (*out)[py::str(prefix + layout.name)] = std::move(array);
  }
}

}  // namespace

void BindModel(py::module_& m) {
  using namespace pybind11::literals;
  py::class_<Recommender>(m, "_Model", "A checkpoint's model (use fedrec.load).")
      .def_property_readonly("spec",
                             [](const Recommender& r) { return SpecDict(r.checkpoint().model()); })
      .def_property_readonly("type", [](const Recommender& r) { return r.model().type(); })
      .def_property_readonly("num_items",
                             [](const Recommender& r) { return r.model().num_items(); })
      .def(
          "tensors",
          [](const py::object& self) {
            const Recommender& r = self.cast<const Recommender&>();
            py::dict out;
            AddTensors(r.model().global_params(), "", self, &out);
            if (const ParameterStore* local = r.model().local_params()) {
              // Local names are distinct from global ones in every model
              // today; the prefix only guards a future clash.
              bool clash = false;
              for (const TensorLayout& t : local->layout()) {
                clash = clash || r.model().global_params().Has(t.name);
              }
              AddTensors(*local, clash ? "local/" : "", self, &out);
            }
            return out;
          },
          "Every tensor, name -> read-only float32 array (a view; no copy).")
      .def(
          "item_ids",
          [](const Recommender& r) {
            const auto& ids = r.checkpoint().item_ids();
            return py::array_t<uint64_t>(static_cast<py::ssize_t>(ids.size()), ids.data());
          },
          "Original item ids, indexed by dense id (a copy).")
      .def(
          "user_ids",
          [](const Recommender& r) {
            const auto& ids = r.checkpoint().user_ids();
            return py::array_t<uint64_t>(static_cast<py::ssize_t>(ids.size()), ids.data());
          },
          "Original user ids, indexed by dense id (a copy).")
      .def(
          "recommend",
          [](const Recommender& r, std::vector<uint64_t> history, int64_t k,
             std::optional<uint64_t> user, bool include_history) {
            if (k < 1 || k > std::numeric_limits<uint32_t>::max()) {
              RaiseStatus(absl::InvalidArgumentError("recommend: -k must be at least 1"));
            }
            RecommendRequest request{std::move(history), user, static_cast<uint32_t>(k),
                                     include_history};
            absl::StatusOr<std::vector<Recommendation>> recs;
            {
              py::gil_scoped_release release;
              recs = r.Recommend(request);
            }
            py::list out;
            for (const Recommendation& rec : Unwrap(std::move(recs))) {
              out.append(py::make_tuple(rec.item, static_cast<double>(rec.score)));
            }
            return out;
          },
          "history"_a, "k"_a = 10, "user"_a = py::none(), "include_history"_a = false,
          "Top-k (item id, score) pairs, as `fedrec recommend`.")
      .def(
          "evaluate",
          [](const Recommender& r, const std::string& checkpoint_path, const std::string& data,
             const std::string& protocol, const std::string& split, int64_t k, int64_t negatives,
             uint64_t seed, int64_t threads, bool quiet, std::string format, bool use_cache,
             std::string cache_dir, std::string csv_columns, std::string csv_delimiter,
             bool csv_header) {
            OfflineEvalRequest request;
            request.data_path = data;
            LoadArgs load;
            load.format = std::move(format);
            load.use_cache = use_cache;
            load.cache_dir = std::move(cache_dir);
            load.csv_columns = std::move(csv_columns);
            load.csv_delimiter = std::move(csv_delimiter);
            load.csv_header = csv_header;
            request.load = Unwrap(ToLoadOptions(load));
            EvalOptions& options = request.options;
            options.protocol = Unwrap(ParseEvalProtocol(protocol));
            options.part = Unwrap(ParseSplitPart(split));
            options.k = Unwrap(ToU32(k, "k"));
            options.negatives = Unwrap(ToU32(negatives, "negatives"));
            options.seed = seed;
            options.threads = Unwrap(ToU32(threads, "threads"));
            if (options.threads > kMaxThreads) {
              Check(InvalidInput("threads", "at most " + std::to_string(kMaxThreads) + " (got " +
                                                std::to_string(threads) + ")"));
            }
            request.quiet = quiet;
            absl::StatusOr<nlohmann::json> j;
            {
              py::gil_scoped_release release;
              j = EvaluateCheckpointModel(r.checkpoint(), r.model(), checkpoint_path, request);
            }
            return JsonToPython(Unwrap(std::move(j)));
          },
          "checkpoint_path"_a, "data"_a, "protocol"_a = "sampled", "split"_a = "test", "k"_a = 10,
          "negatives"_a = 100, "seed"_a = 0, "threads"_a = 0, "quiet"_a = false,
          "format"_a = "auto", "use_cache"_a = true, "cache_dir"_a = "", "csv_columns"_a = "0,1",
          "csv_delimiter"_a = ",", "csv_header"_a = true,
          "The JSON of `fedrec eval --checkpoint` as a dict.");

  m.def(
      "load_model",
      [](const std::string& path) {
        absl::StatusOr<Recommender> r;
        {
          py::gil_scoped_release release;
          absl::StatusOr<Checkpoint> ckpt = ReadCheckpointWithLocalShards(path);
          r = ckpt.ok() ? Recommender::Create(*std::move(ckpt), path, /*features=*/nullptr)
                        : absl::StatusOr<Recommender>(ckpt.status());
        }
        return Unwrap(std::move(r));
      },
      "path"_a,
      "Reads and verifies a checkpoint (with its workers' local shards) and builds its model.");
}

}  // namespace fedrec::python
