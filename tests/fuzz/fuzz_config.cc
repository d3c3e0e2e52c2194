// Fuzz target: the TOML configuration with --set overrides (core/config.h):
// ParseConfig (the TOML reader, the override parser, ValidateConfig).
//
// Input: the TOML text, then each override after a NUL byte
// ("text\0model.dim=8\0seed=3").
//
// Promises checked on an accepted config: it validates; ToToml of it parses
// back to the same config (ToToml's own promise), and printing that again
// gives the same text.
#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "tests/fuzz/fuzz_common.h"

namespace fedrec {
namespace {

void Seeds(const std::function<void(const std::string&, const std::string&)>& emit) {
  emit("empty", "");
  emit("defaults", ToToml(Config{}));
  emit("small",
       "seed = 7\n[data]\npath = \"ml.txt\"\nformat = \"sasrec\"\nmin_count = 5\n"
       "[model]\ntype = \"sasrec\"\ndim = 16\n[federation]\nrounds = 3\n"
       "[privacy]\nmode = \"central\"\nnoise_multiplier = 1.1\n");
  emit("overrides", std::string("[model]\ntype = \"gru4rec\"\n") + '\0' + "model.dim=8" + '\0' +
                        "seed = 9" + '\0' + "secagg.enabled=true" + '\0' + "data.path='x y.csv'");
  emit("secagg", "[secagg]\nenabled = true\ngraph = \"harary\"\ndegree = 4\nthreshold = 0.6\n");
}

}  // namespace
}  // namespace fedrec

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fedrec::fuzz::WriteSeedsIfAsked(fedrec::Seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedrec;
  const std::string_view all = fuzz::AsView(data, size);
  const size_t nul = all.find('\0');
  const std::string toml(all.substr(0, nul));
  std::vector<std::string> overrides;
  if (nul != std::string_view::npos) {
    std::string_view rest = all.substr(nul + 1);
    while (true) {
      const size_t next = rest.find('\0');
      overrides.emplace_back(rest.substr(0, next));
      if (next == std::string_view::npos) break;
      rest = rest.substr(next + 1);
    }
  }
  absl::StatusOr<Config> config = ParseConfig(toml, "fuzz.toml", overrides);
  if (!config.ok()) {
    FUZZ_CHECK(!config.status().message().empty(), "a refusal says why");
    return 0;
  }
  FUZZ_CHECK(ValidateConfig(*config).ok(), "an accepted config validates");
  const std::string printed = ToToml(*config);
  absl::StatusOr<Config> again = ParseConfig(printed, "printed.toml");
  if (!again.ok()) {
    std::fprintf(stderr, "%s\n", std::string(again.status().message()).c_str());
  }
  FUZZ_CHECK(again.ok(), "the printed config parses");
  FUZZ_CHECK(*again == *config, "the printed config parses back to the same config");
  FUZZ_CHECK(ToToml(*again) == printed, "printing is stable");
  return 0;
}
