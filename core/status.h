// The one error model of fedrec: absl::Status / absl::StatusOr, as in Google's
// fcp and differential-privacy libraries. No exceptions cross a room boundary.
//
// Codes and what the command line does with them (apps/, ExitCodeFor):
//   InvalidArgument, NotFound, FailedPrecondition, DataLoss, OutOfRange,
//   AlreadyExists, Unimplemented  -> user error: one line, exit code 2
//   Cancelled                      -> interrupted (SIGINT/SIGTERM) and stopped
//                                     cleanly: one line, exit code 130
//   anything else                  -> internal error: one line, exit code 1
// A user-facing message starts with where the problem is ("path:line: ",
// "config: train.lr: ", ...) followed by what is wrong; the edge prefixes
// "fedrec: error: ".
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"

#define FEDREC_STATUS_CONCAT_INNER_(x, y) x##y
#define FEDREC_STATUS_CONCAT_(x, y) FEDREC_STATUS_CONCAT_INNER_(x, y)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define FEDREC_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status fedrec_status_ = (expr);          \
    if (!fedrec_status_.ok()) return fedrec_status_; \
  } while (0)

// `lhs = value of expr` (a StatusOr), or returns its error.
#define FEDREC_ASSIGN_OR_RETURN(lhs, expr) \
  FEDREC_ASSIGN_OR_RETURN_IMPL_(FEDREC_STATUS_CONCAT_(fedrec_statusor_, __LINE__), lhs, expr)
#define FEDREC_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = std::move(tmp).value()

namespace fedrec {

// Debian 12's absl is built with its own absl::string_view (not
// std::string_view): pass std::string or const char* to absl APIs, and wrap
// status.message() in std::string(...) before using it as a std type.

// "<where>: <what>" with InvalidArgument: bad data, config or arguments.
inline absl::Status InvalidInput(std::string_view where, std::string_view what) {
  std::string message(where);
  message.append(": ").append(what);
  return absl::InvalidArgumentError(message);
}

// Adds a location prefix to an error, keeping its code ("config.toml: " + msg).
inline absl::Status WithContext(const absl::Status& status, std::string_view where) {
  if (status.ok()) return status;
  std::string message(where);
  message.append(": ").append(status.message().data(), status.message().size());
  return absl::Status(status.code(), message);
}

// A job's error that another process of the job (rank 0) reports: the
// process still fails with the error's code but prints nothing, so an MPI job
// prints one line, not one per rank.
inline absl::Status ReportedByAnotherRank(absl::Status status) {
  if (!status.ok()) status.SetPayload("fedrec/reported-by-another-rank", absl::Cord("1"));
  return status;
}
inline bool IsReportedByAnotherRank(const absl::Status& status) {
  return status.GetPayload("fedrec/reported-by-another-rank").has_value();
}

// True for errors caused by the user's input rather than by fedrec itself.
inline bool IsUserError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kUnimplemented:
      return true;
    default:
      return false;
  }
}

// `text` made safe to print as one line: control bytes (NUL, CR, LF, ESC,
// DEL, ...) and bytes that are not valid UTF-8 become \xNN; valid UTF-8
// (non-ASCII paths) is kept. Messages echo user input (paths, values, ids),
// and raw bytes from it must not break the one-line contract or a terminal.
std::string EscapeForMessage(std::string_view text);

// Process exit code for a final status: 0 ok, 2 user error, 130 interrupted
// (128 + SIGINT, as a shell reports it), 1 internal.
inline int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return 0;
  if (status.code() == absl::StatusCode::kCancelled) return 130;
  return IsUserError(status) ? 2 : 1;
}

}  // namespace fedrec
