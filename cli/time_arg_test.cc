#include "cli/time_arg.h"

#include "gtest/gtest.h"

namespace llmproxy::cli {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1717243200);  // 2024-06-01 12:00Z

TEST(ParseTimeArg, NowIsNow) { EXPECT_EQ(*ParseTimeArg("now", kNow), kNow); }

TEST(ParseTimeArg, NegativeDurationCountsBack) {
  EXPECT_EQ(*ParseTimeArg("-24h", kNow), kNow - absl::Hours(24));
  EXPECT_EQ(*ParseTimeArg("-30m", kNow), kNow - absl::Minutes(30));
  EXPECT_EQ(*ParseTimeArg("-7d", kNow), kNow - absl::Hours(24 * 7));
  EXPECT_EQ(*ParseTimeArg("-2w", kNow), kNow - absl::Hours(24 * 14));
}

TEST(ParseTimeArg, UnsignedDurationAlsoCountsBack) {
  EXPECT_EQ(*ParseTimeArg("24h", kNow), kNow - absl::Hours(24));
}

TEST(ParseTimeArg, CompoundDuration) {
  EXPECT_EQ(*ParseTimeArg("-1h30m", kNow), kNow - absl::Minutes(90));
}

TEST(ParseTimeArg, Rfc3339WithZoneOffset) {
  EXPECT_EQ(*ParseTimeArg("2024-06-01T14:00:00+02:00", kNow), kNow);
  EXPECT_EQ(*ParseTimeArg("2024-06-01T12:00:00Z", kNow), kNow);
}

TEST(ParseTimeArg, BareDateIsMidnightUtc) {
  EXPECT_EQ(*ParseTimeArg("2024-06-01", kNow), kNow - absl::Hours(12));
}

TEST(ParseTimeArg, RejectsGarbageWithAHint) {
  absl::StatusOr<absl::Time> t = ParseTimeArg("yesterday", kNow);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("-24h"), absl::string_view::npos);
  EXPECT_FALSE(ParseTimeArg("-5x", kNow).ok());
  EXPECT_FALSE(ParseTimeArg("-h", kNow).ok());
  EXPECT_FALSE(ParseTimeArg("", kNow).ok());
}

TEST(ParseFutureTimeArg, DurationCountsForward) {
  EXPECT_EQ(*ParseFutureTimeArg("30d", kNow), kNow + absl::Hours(24 * 30));
  EXPECT_EQ(*ParseFutureTimeArg("+12h", kNow), kNow + absl::Hours(12));
}

TEST(ParseFutureTimeArg, AbsoluteTimeIsKept) {
  EXPECT_EQ(*ParseFutureTimeArg("2024-06-01T12:00:00Z", kNow), kNow);
}

TEST(FormatRfc3339, Rfc3339Utc) {
  EXPECT_EQ(FormatRfc3339(kNow), "2024-06-01T12:00:00Z");
}

}  // namespace
}  // namespace llmproxy::cli
