// Status helpers for tests.
#pragma once

#include <string>

#include "core/status.h"

namespace fedrec::testing {

// The status's message as a std::string (for EXPECT_EQ and matchers).
inline std::string StatusMessage(const absl::Status& s) { return std::string(s.message()); }

}  // namespace fedrec::testing
