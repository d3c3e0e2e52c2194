#include "coordinator/sweep.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "coordinator/federated_trainer.h"
#include "core/atomic_file.h"
#include "core/output_path.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

namespace fedrec {
namespace {

std::string EpsilonName(double e) { return std::isinf(e) ? "inf" : fmt::format("{:g}", e); }

// A small self-contained SVG line chart: test NDCG@K and HR@K (sampled
// protocol) against epsilon on a log axis, with the no-noise point at the
// right edge.
std::string SweepSvg(const nlohmann::json& rows, uint32_t k) {
  const double w = 640, h = 400, left = 70, right = 30, top = 40, bottom = 60;
  std::vector<double> finite;
  for (const auto& r : rows) {
    if (r["epsilon"].is_number()) finite.push_back(r["epsilon"].get<double>());
  }
  double lo = finite.empty() ? 1 : *std::min_element(finite.begin(), finite.end());
  double hi = finite.empty() ? 10 : *std::max_element(finite.begin(), finite.end());
  lo = std::log10(lo) - 0.2;
  hi = std::log10(hi) + 0.2;
  const double inf_x = w - right - 10;
  const double plot_right = inf_x - 40;
  auto x_of = [&](const nlohmann::json& e) {
    if (!e.is_number()) return inf_x;
    return left + (std::log10(e.get<double>()) - lo) / (hi - lo) * (plot_right - left);
  };
  double ymax = 0;
  for (const auto& r : rows) ymax = std::max(ymax, r["HR"].get<double>());
  ymax = std::max(0.1, std::ceil(ymax * 10) / 10);
  auto y_of = [&](double v) { return h - bottom - v / ymax * (h - top - bottom); };
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" "
      "fill=\"white\"/>\n",
      w, h);
  svg += fmt::format(
      "<text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">fedrec sweep: test "
      "utility (sampled protocol) against the privacy budget</text>\n",
      w / 2);
  svg += fmt::format(
      "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/>\n<line x1=\"{0}\" "
      "y1=\"{3}\" x2=\"{0}\" y2=\"{1}\" stroke=\"black\"/>\n",
      left, h - bottom, w - right, top);
  for (int i = 0; i <= 5; ++i) {
    const double v = ymax * i / 5;
    svg += fmt::format(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.2f}</text><line x1=\"{}\" y1=\"{}\" "
        "x2=\"{}\" y2=\"{}\" stroke=\"#ddd\"/>\n",
        left - 6, y_of(v) + 4, v, left, y_of(v), w - right, y_of(v));
  }
  for (const auto& r : rows) {
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                       x_of(r["epsilon"]), h - bottom + 18,
                       r["epsilon"].is_number() ? fmt::format("{:g}", r["epsilon"].get<double>())
                                                : std::string("inf"));
  }
  svg += fmt::format(
      "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">target epsilon (log scale; inf = no "
      "noise)</text>\n",
      (left + w - right) / 2, h - 15);
  const std::pair<const char*, const char*> series[] = {{"HR", "#1f77b4"}, {"NDCG", "#d62728"}};
  int legend = 0;
  for (const auto& [key, color] : series) {
    std::string points;
    for (const auto& r : rows) {
      const double x = x_of(r["epsilon"]), y = y_of(r[key].get<double>());
      points += fmt::format("{:.1f},{:.1f} ", x, y);
      svg +=
          fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\"/>\n", x, y, color);
    }
    svg += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n",
                       points, color);
    svg += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"{}\">{}@{}</text>\n", left + 10,
                       top + 15 + 16 * legend, color, key, k);
    ++legend;
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace

absl::StatusOr<std::vector<double>> ParseEpsilons(const std::string& text) {
  std::vector<double> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    double e = 0;
    if (item == "inf") {
      e = std::numeric_limits<double>::infinity();
    } else {
      size_t used = 0;
      try {
        e = std::stod(item, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != item.size() || item.empty() || !(e > 0) || std::isinf(e)) {
        return absl::InvalidArgumentError("--epsilons: '" + item +
                                          "' is not a positive number or inf");
      }
    }
    if (std::find(out.begin(), out.end(), e) != out.end()) {
      return absl::InvalidArgumentError("--epsilons: '" + item + "' is listed twice");
    }
    out.push_back(e);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

absl::StatusOr<nlohmann::json> RunSweep(const Config& base, const SweepOptions& options) {
  if (base.federation.mode != "federated") {
    return absl::InvalidArgumentError(
        "sweep: federation.mode must be \"federated\" (the privacy unit is the client)");
  }
  if (options.epsilons.empty()) return absl::InvalidArgumentError("sweep: no --epsilons");
  // The sweep's table reports both protocols of every run's test evaluation.
  if (base.eval.final_protocols != "sampled,full" && base.eval.final_protocols != "full,sampled") {
    return absl::InvalidArgumentError(
        "sweep: eval.final_protocols must list both sampled and full (the sweep table reports "
        "both), not \"" +
        base.eval.final_protocols + "\"");
  }
  FEDREC_RETURN_IF_ERROR(CheckOutputDirectory(options.out_dir, "sweep: --out"));
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(options.out_dir, ec);
  if (ec) return absl::InvalidArgumentError(options.out_dir + ": " + ec.message());
  const uint32_t k = static_cast<uint32_t>(base.eval.k);
  const std::string ks = std::to_string(k);
  nlohmann::json rows = nlohmann::json::array();
  for (size_t run = 0; run < options.epsilons.size(); ++run) {
    const double eps = options.epsilons[run];
    // "run 2/5, epsilon 4": where the sweep is, before each run's own bar.
    const std::string where =
        fmt::format("run {}/{}, epsilon {}", run + 1, options.epsilons.size(), EpsilonName(eps));
    Config c = base;
    if (std::isinf(eps)) {
      c.privacy.mode = "none";
      c.privacy.target_epsilon.reset();
    } else {
      // Central unless the config asks for distributed DP (clients' noise).
      c.privacy.mode = base.privacy.mode == "distributed" ? "distributed" : "central";
      c.privacy.noise_multiplier = 0;  // calibrate to the target
      c.privacy.target_epsilon = eps;
    }
    FEDREC_RETURN_IF_ERROR(ValidateConfig(c, "sweep: epsilon " + EpsilonName(eps)));
    const std::string dir = options.out_dir + "/eps-" + EpsilonName(eps);
    const std::string summary_path = dir + "/summary.json";
    nlohmann::json summary;
    bool done = false;
    if (fs::exists(summary_path)) {
      FEDREC_ASSIGN_OR_RETURN(std::string text, ReadFileToString(summary_path));
      summary = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (summary.is_discarded()) return absl::DataLossError(summary_path + ": not JSON");
      // An interrupted run wrote a summary too; it is resumed, not reused.
      done = !summary.value("interrupted", false);
    }
    if (done) {
      spdlog::info("sweep: {}: done before, reusing {}", where, summary_path);
    } else {
      const bool resume = fs::exists(dir + "/config.toml");
      spdlog::info("sweep: {}: {}", where, resume ? "resuming" : "training");
      FEDREC_ASSIGN_OR_RETURN(
          summary,
          RunFederatedTraining(c, {.out_dir = dir, .resume = resume, .quiet = options.quiet}));
      if (summary.value("interrupted", false)) {
        return absl::CancelledError(
            fmt::format("sweep: {}: {}; the same sweep command resumes it", where,
                        summary.value("stopped_reason", std::string("interrupted"))));
      }
    }
    const nlohmann::json& test = summary.at("test_at_best");
    nlohmann::json row = {
        {"epsilon", std::isinf(eps) ? nlohmann::json("inf") : nlohmann::json(eps)},
        {"epsilon_spent", summary["privacy"].value("epsilon", 0.0)},
        {"sigma", summary["privacy"].value("noise_multiplier", 0.0)},
        {"rounds", summary.value("last_round", 0)},
        {"HR", test["sampled"]["HR@" + ks]},
        {"NDCG", test["sampled"]["NDCG@" + ks]},
        {"HR_full", test["full"]["HR@" + ks]},
        {"NDCG_full", test["full"]["NDCG@" + ks]},
        {"wall_seconds", summary.value("wall_seconds", 0.0)}};
    rows.push_back(row);
    std::string csv = fmt::format(
        "epsilon,epsilon_spent,sigma,rounds,HR@{0},NDCG@{0},full_HR@{0},full_NDCG@{0},"
        "wall_seconds\n",
        k);
    for (const auto& r : rows) {
      csv += fmt::format("{},{:.6g},{:.6g},{},{:.6f},{:.6f},{:.6f},{:.6f},{:.1f}\n",
                         r["epsilon"].is_number() ? fmt::format("{:g}", r["epsilon"].get<double>())
                                                  : std::string("inf"),
                         r["epsilon_spent"].get<double>(), r["sigma"].get<double>(),
                         r["rounds"].get<uint64_t>(), r["HR"].get<double>(),
                         r["NDCG"].get<double>(), r["HR_full"].get<double>(),
                         r["NDCG_full"].get<double>(), r["wall_seconds"].get<double>());
    }
    FEDREC_RETURN_IF_ERROR(WriteFileAtomic(options.out_dir + "/sweep.csv", csv));
    FEDREC_RETURN_IF_ERROR(WriteFileAtomic(options.out_dir + "/sweep.svg", SweepSvg(rows, k)));
  }
  return rows;
}

}  // namespace fedrec
