#include "core/isa.h"

#include <cstdio>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

// Set by CMake (cmake/FedrecIsa.cmake) for this file, which is itself
// compiled for the baseline.
#ifndef FEDREC_ISA_NAME
#define FEDREC_ISA_NAME "baseline"
#endif
#ifndef FEDREC_ISA_FEATURES
#define FEDREC_ISA_FEATURES ""
#endif

namespace fedrec {
namespace {

#if defined(__x86_64__)
struct CpuFeatures {
  unsigned leaf1_ecx = 0, leaf7_ebx = 0, ext1_ecx = 0;
  unsigned long long xcr0 = 0;
};

CpuFeatures ReadCpu() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (__get_cpuid(1, &a, &b, &c, &d)) f.leaf1_ecx = c;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) f.leaf7_ebx = b;
  if (__get_cpuid(0x80000001u, &a, &b, &c, &d)) f.ext1_ecx = c;
  // XGETBV is only legal when the OS has enabled it (OSXSAVE, leaf 1 ECX 27).
  if (f.leaf1_ecx & (1u << 27)) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    f.xcr0 = (static_cast<unsigned long long>(hi) << 32) | lo;
  }
  return f;
}

// Whether the CPU has `name` (CPUID bits from the Intel SDM, vol. 2A). The
// AVX-class features also need the OS to save the wider registers: XCR0 bits
// 1-2 for YMM, 5-7 for the AVX-512 state.
bool CpuHas(const CpuFeatures& f, const char* name) {
  auto bit = [](unsigned reg, int i) { return ((reg >> i) & 1u) != 0; };
  const bool ymm = (f.xcr0 & 0x6) == 0x6;
  const bool zmm = ymm && (f.xcr0 & 0xe0) == 0xe0;
  struct Row {
    const char* name;
    bool has;
  };
  const Row rows[] = {
      {"sse3", bit(f.leaf1_ecx, 0)},
      {"ssse3", bit(f.leaf1_ecx, 9)},
      {"sse4.1", bit(f.leaf1_ecx, 19)},
      {"sse4.2", bit(f.leaf1_ecx, 20)},
      {"popcnt", bit(f.leaf1_ecx, 23)},
      {"movbe", bit(f.leaf1_ecx, 22)},
      {"avx", bit(f.leaf1_ecx, 28) && ymm},
      {"f16c", bit(f.leaf1_ecx, 29) && ymm},
      {"fma", bit(f.leaf1_ecx, 12) && ymm},
      {"bmi", bit(f.leaf7_ebx, 3)},
      {"avx2", bit(f.leaf7_ebx, 5) && ymm},
      {"bmi2", bit(f.leaf7_ebx, 8)},
      {"lzcnt", bit(f.ext1_ecx, 5)},
      {"avx512f", bit(f.leaf7_ebx, 16) && zmm},
      {"avx512dq", bit(f.leaf7_ebx, 17) && zmm},
      {"avx512cd", bit(f.leaf7_ebx, 28) && zmm},
      {"avx512bw", bit(f.leaf7_ebx, 30) && zmm},
      {"avx512vl", bit(f.leaf7_ebx, 31) && zmm},
  };
  for (const Row& r : rows) {
    if (std::strcmp(r.name, name) == 0) return r.has;
  }
  // A feature this table does not know: not a reason to refuse.
  return true;
}
#endif

// Whether the comma list `list` contains `word`.
bool ListHas(const char* list, const char* word) {
  if (list == nullptr) return false;
  const size_t n = std::strlen(word);
  for (const char* p = list; *p != '\0';) {
    const char* end = std::strchr(p, ',');
    const size_t len = end ? static_cast<size_t>(end - p) : std::strlen(p);
    if (len == n && std::strncmp(p, word, n) == 0) return true;
    if (end == nullptr) break;
    p = end + 1;
  }
  return false;
}

}  // namespace

const char* BuildIsa() { return FEDREC_ISA_NAME; }

const char* BuildIsaFeatureList() { return FEDREC_ISA_FEATURES; }

std::string BuildIsaDescription() {
  std::string out = BuildIsa();
  if (out == "native") out = out + " (" + BuildIsaFeatureList() + ")";
  return out;
}

size_t FindMissingIsaFeatures(const char* pretend_missing, char* out, size_t out_size) {
  if (out_size > 0) out[0] = '\0';
  size_t used = 0, count = 0;
#if defined(__x86_64__)
  const CpuFeatures cpu = ReadCpu();
#endif
  const char* p = BuildIsaFeatureList();
  while (*p != '\0') {
    while (*p == ' ') ++p;
    if (*p == '\0') break;
    char name[32];
    size_t len = 0;
    while (p[len] != '\0' && p[len] != ' ') ++len;
    const size_t copy = len < sizeof(name) - 1 ? len : sizeof(name) - 1;
    std::memcpy(name, p, copy);
    name[copy] = '\0';
    p += len;
    bool has = !ListHas(pretend_missing, name);
#if defined(__x86_64__)
    has = has && CpuHas(cpu, name);
#endif
    if (has) continue;
    ++count;
    const int wrote = std::snprintf(out + used, out_size > used ? out_size - used : 0, "%s%s",
                                    count > 1 ? ", " : "", name);
    if (wrote > 0) used += static_cast<size_t>(wrote);
    if (used >= out_size) used = out_size > 0 ? out_size - 1 : 0;
  }
  return count;
}

void FormatIsaRefusal(const char* pretend_missing, char* out, size_t out_size) {
  if (out_size == 0) return;
  out[0] = '\0';
  char missing[256];
  if (FindMissingIsaFeatures(pretend_missing, missing, sizeof(missing)) == 0) return;
  const bool native = std::strcmp(BuildIsa(), "native") == 0;
  std::snprintf(out, out_size,
                "fedrec: error: this fedrec was built for %s%s%s%s and this CPU lacks %s; build it "
                "on this machine (scripts/build.sh chooses the build machine's ISA) or with "
                "FEDREC_ISA=baseline",
                BuildIsa(), native ? " (" : "", native ? BuildIsaFeatureList() : "",
                native ? ")" : "", missing);
}

std::string IsaRefusal(const char* pretend_missing) {
  char line[512];
  FormatIsaRefusal(pretend_missing, line, sizeof(line));
  return line;
}

}  // namespace fedrec
