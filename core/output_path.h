// Checks of the paths a command writes, made before any work so that a bad
// path is refused with a message saying what is wrong with it (empty, an
// existing file where a directory is wanted, a parent that is not a writable
// directory) rather than failing half way or writing somewhere unexpected:
// an empty --out once made `fedrec train` write its run into "/".
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace fedrec {

// A directory the command creates or writes into (`flag` names the argument,
// e.g. "--out"): InvalidArgument for an empty path, or for a path naming an
// existing non-directory or lying under one; FailedPrecondition when the
// directory, or the nearest existing ancestor it would be created in, is not
// writable. Whether an existing directory may be reused is the caller's
// decision.
absl::Status CheckOutputDirectory(const std::string& path, std::string_view flag);

// A file the command writes (replacing it if it exists): the same checks,
// with an existing directory refused instead of an existing file.
absl::Status CheckOutputFile(const std::string& path, std::string_view flag);

}  // namespace fedrec
