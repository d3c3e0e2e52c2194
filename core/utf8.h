// UTF-8 validation, shared by message escaping (core/status.h) and the
// config (a TOML file can hold only UTF-8).
#pragma once

#include <cstddef>
#include <string_view>

namespace fedrec {

// Length of the valid UTF-8 sequence of 2-4 bytes starting at text[i], or 0
// (ASCII, a stray continuation byte, an overlong form, a surrogate, a code
// point past U+10FFFF, or a sequence cut short).
size_t Utf8SequenceLength(std::string_view text, size_t i);

// True if all of `text` is valid UTF-8.
bool IsValidUtf8(std::string_view text);

}  // namespace fedrec
