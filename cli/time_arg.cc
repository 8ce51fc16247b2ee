#include "cli/time_arg.h"

#include <cctype>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace llmproxy::cli {
namespace {

// Parses "1h30m"-style durations with day and week units, which
// absl::ParseDuration lacks.
absl::StatusOr<absl::Duration> ParseRelative(std::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("empty duration");
  absl::Duration total = absl::ZeroDuration();
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])))
      ++i;
    if (i == start || i == text.size() || i - start > 9) {
      return absl::InvalidArgumentError("bad duration");
    }
    int64_t n = std::stoll(std::string(text.substr(start, i - start)));
    switch (text[i]) {
      case 's':
        total += absl::Seconds(n);
        break;
      case 'm':
        total += absl::Minutes(n);
        break;
      case 'h':
        total += absl::Hours(n);
        break;
      case 'd':
        total += absl::Hours(24 * n);
        break;
      case 'w':
        total += absl::Hours(24 * 7 * n);
        break;
      default:
        return absl::InvalidArgumentError("bad duration unit");
    }
    ++i;
  }
  return total;
}

}  // namespace

absl::StatusOr<absl::Time> ParseTimeArg(std::string_view text, absl::Time now) {
  std::string s(
      absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size())));
  if (s == "now") return now;
  std::string err;
  absl::Time t;
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &err)) return t;
  if (absl::ParseTime("%Y-%m-%d", s, absl::UTCTimeZone(), &t, &err)) return t;
  std::string_view rel = s;
  if (!rel.empty() && rel.front() == '-') rel.remove_prefix(1);
  if (absl::StatusOr<absl::Duration> d = ParseRelative(rel); d.ok()) {
    return now - *d;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "bad time \"", s,
      "\": want RFC 3339 (2024-06-01T12:00:00Z), a date (2024-06-01), "
      "\"now\" or a duration ago like -24h, -30m, -7d"));
}

absl::StatusOr<absl::Time> ParseFutureTimeArg(std::string_view text,
                                              absl::Time now) {
  std::string s(
      absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size())));
  std::string_view rel = s;
  if (!rel.empty() && rel.front() == '+') rel.remove_prefix(1);
  if (absl::StatusOr<absl::Duration> d = ParseRelative(rel); d.ok()) {
    return now + *d;
  }
  absl::StatusOr<absl::Time> t = ParseTimeArg(s, now);
  if (!t.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad time \"", s,
        "\": want RFC 3339 (2024-06-01T12:00:00Z), a date (2024-06-01) or a "
        "duration from now like 30d, 12h"));
  }
  return t;
}

std::string FormatRfc3339(absl::Time t) {
  if (t == absl::InfinitePast()) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace llmproxy::cli
