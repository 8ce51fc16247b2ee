#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace llmproxy::cli {

// Parses a point in time given on the command line, relative to `now`:
//   - "now";
//   - an RFC 3339 time, e.g. "2024-06-01T12:00:00Z" or
//   "2024-06-01T14:00:00+02:00";
//   - a bare date "2024-06-01" (midnight UTC);
//   - a duration back from now: "-24h", "24h", "-1h30m", "7d", "2w" (units s,
//     m, h, d, w). The leading '-' is optional because a range start in the
//     future is never what an operator means.
// INVALID_ARGUMENT says what was expected.
absl::StatusOr<absl::Time> ParseTimeArg(std::string_view text, absl::Time now);

// Like ParseTimeArg, for times ahead such as an expiry: a duration counts
// forward from now ("30d", "+12h").
absl::StatusOr<absl::Time> ParseFutureTimeArg(std::string_view text,
                                              absl::Time now);

// Formats `t` as RFC 3339 in UTC with second precision, e.g.
// "2024-06-01T12:00:00Z"; the infinite past becomes "-".
std::string FormatRfc3339(absl::Time t);

}  // namespace llmproxy::cli
