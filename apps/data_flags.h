// Command-line flags shared by every command that loads a dataset.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "core/status.h"
#include "data/loader.h"

namespace fedrec::cli {

struct DataFlags {
  std::string input;
  std::string format = "auto";
  uint32_t min_count = 0;
  uint32_t kcore = 0;
  bool dedupe = false;
  bool no_cache = false;
  std::string cache_dir;
  // Generic CSV (--format csv): "user,item[,rating[,timestamp]]" as 0-based
  // column indices ("-" for an absent column), a delimiter, a header flag.
  std::string csv_columns = "0,1";
  std::string csv_delimiter = ",";
  bool csv_no_header = false;

  // `input_flag` is "--input" for `data stats` and "--data" for `eval`.
  void AddTo(CLI::App* cmd, const std::string& input_flag);
  absl::StatusOr<LoadOptions> ToLoadOptions() const;
};

}  // namespace fedrec::cli
