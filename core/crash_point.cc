#include "core/crash_point.h"

#include <csignal>
#include <cstdlib>
#include <string>

namespace fedrec {
namespace {

struct Target {
  bool armed = false;
  std::string point;
  uint64_t round = 0;
};

Target ReadTarget() {
  Target t;
  const char* spec = std::getenv("FEDREC_CRASH_AT");
  if (spec == nullptr) return t;
  const std::string s(spec);
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return t;
  char* end = nullptr;
  const unsigned long long round = std::strtoull(s.c_str() + colon + 1, &end, 10);
  if (end == s.c_str() + colon + 1 || *end != '\0') return t;
  t.armed = true;
  t.point = s.substr(0, colon);
  t.round = round;
  return t;
}

}  // namespace

void CrashPoint(std::string_view point, uint64_t round) {
  static const Target target = ReadTarget();
  if (!target.armed || target.round != round || target.point != point) return;
  std::raise(SIGKILL);
}

}  // namespace fedrec
