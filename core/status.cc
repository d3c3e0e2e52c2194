#include "core/status.h"

#include <cstdio>

#include "core/utf8.h"

namespace fedrec {

std::string EscapeForMessage(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b >= 0x20 && b < 0x7F) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    if (b >= 0x80) {
      if (const size_t n = Utf8SequenceLength(text, i); n > 0) {
        out.append(text.substr(i, n));
        i += n;
        continue;
      }
    }
    char hex[8];
    std::snprintf(hex, sizeof(hex), "\\x%02X", b);
    out += hex;
    ++i;
  }
  return out;
}

}  // namespace fedrec
