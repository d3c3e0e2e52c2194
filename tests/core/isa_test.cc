#include "core/isa.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace fedrec {
namespace {

std::string Features() { return BuildIsaFeatureList(); }

TEST(Isa, NameIsOneOfTheConfiguredChoices) {
  const std::string isa = BuildIsa();
  EXPECT_TRUE(isa == "baseline" || isa == "x86-64-v3" || isa == "native") << isa;
  EXPECT_EQ(isa == "baseline", Features().empty()) << Features();
  if (isa == "native") {
    EXPECT_EQ(BuildIsaDescription(), "native (" + Features() + ")");
  } else {
    EXPECT_EQ(BuildIsaDescription(), isa);
  }
}

// The feature list comes from the compiler's macros for the project's flags:
// it must agree with what this test (compiled with those flags) sees.
TEST(Isa, FeatureListMatchesTheMacrosOfProjectCode) {
  const std::string f = " " + Features() + " ";
  auto listed = [&](const char* name) { return f.find(std::string(" ") + name + " ") != f.npos; };
  const std::string isa = BuildIsa();
  if (isa == "baseline") return;
#ifdef __AVX2__
  EXPECT_TRUE(listed("avx2"));
#else
  EXPECT_FALSE(listed("avx2"));
#endif
#ifdef __FMA__
  EXPECT_TRUE(listed("fma"));
#else
  EXPECT_FALSE(listed("fma"));
#endif
  if (isa == "x86-64-v3") {
    for (const char* name : {"avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe"}) {
      EXPECT_TRUE(listed(name)) << name << " missing from " << Features();
    }
    EXPECT_FALSE(listed("avx512f"));
  }
}

TEST(Isa, ThisCpuRunsThisBuild) {
  // The guard would have exited before main otherwise; the function agrees.
  char missing[256];
  EXPECT_EQ(FindMissingIsaFeatures(nullptr, missing, sizeof(missing)), 0u) << missing;
  EXPECT_EQ(IsaRefusal(nullptr), "");
  EXPECT_EQ(IsaRefusal(""), "");
}

TEST(Isa, PretendedMissingFeaturesAreNamedInTheRefusal) {
  if (Features().empty()) {
    // A baseline build needs nothing: no pretence makes it refuse.
    EXPECT_EQ(IsaRefusal("avx2,fma"), "");
    return;
  }
  const std::string first = Features().substr(0, Features().find(' '));
  const std::string line = IsaRefusal(("nosuchfeature," + first).c_str());
  EXPECT_EQ(line.rfind("fedrec: error: this fedrec was built for " + std::string(BuildIsa()), 0),
            0u)
      << line;
  EXPECT_NE(line.find("this CPU lacks " + first + ";"), std::string::npos) << line;
  EXPECT_NE(line.find("FEDREC_ISA=baseline"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
  char missing[256];
  EXPECT_EQ(FindMissingIsaFeatures(first.c_str(), missing, sizeof(missing)), 1u);
  EXPECT_EQ(std::string(missing), first);
}

TEST(Isa, ListOfMissingFeaturesIsTruncatedNotOverrun) {
  if (Features().find(' ') == std::string::npos) GTEST_SKIP() << "needs two features";
  std::string all = Features();
  for (char& c : all) c = c == ' ' ? ',' : c;
  char tiny[6];
  std::memset(tiny, 'x', sizeof(tiny));
  const size_t n = FindMissingIsaFeatures(all.c_str(), tiny, sizeof(tiny));
  EXPECT_GE(n, 2u);
  EXPECT_EQ(tiny[sizeof(tiny) - 1], '\0');
}

}  // namespace
}  // namespace fedrec
