// Pure validation and helper rules that need no server.

#include "controlplane/validation.h"

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "controlplane/snapshot_builder.h"
#include "gtest/gtest.h"

namespace llmproxy::controlplane {
namespace {

absl::Time Utc(int y, int m, int d, int hh = 0, int mm = 0) {
  return absl::FromCivil(absl::CivilMinute(y, m, d, hh, mm),
                         absl::UTCTimeZone());
}

int64_t Unix(int y, int m, int d) { return absl::ToUnixSeconds(Utc(y, m, d)); }

TEST(BudgetPeriodStart, DayStartsAtMidnightUtc) {
  EXPECT_EQ(BudgetPeriodStart("day", Utc(2024, 5, 15, 13, 45)),
            Unix(2024, 5, 15));
}

TEST(BudgetPeriodStart, WeekStartsOnMonday) {
  // 2024-05-15 is a Wednesday; 2024-05-13 the Monday before.
  EXPECT_EQ(BudgetPeriodStart("week", Utc(2024, 5, 15, 9)), Unix(2024, 5, 13));
  EXPECT_EQ(BudgetPeriodStart("week", Utc(2024, 5, 13, 0, 1)),
            Unix(2024, 5, 13));
  EXPECT_EQ(BudgetPeriodStart("week", Utc(2024, 5, 19, 23, 59)),
            Unix(2024, 5, 13));
}

TEST(BudgetPeriodStart, MonthIsTheDefaultPeriod) {
  EXPECT_EQ(BudgetPeriodStart("month", Utc(2024, 2, 29, 23)), Unix(2024, 2, 1));
  EXPECT_EQ(BudgetPeriodStart("", Utc(2024, 2, 29, 23)), Unix(2024, 2, 1));
}

TEST(BudgetPeriodStart, TotalNeverResets) {
  EXPECT_EQ(BudgetPeriodStart("total", Utc(2024, 2, 29)), 0);
}

TEST(PageToken, RoundTripsAndIsBoundToItsList) {
  std::string token = validation::MakePageToken("models", "md_0123456789ab");
  absl::StatusOr<std::string> after =
      validation::ParsePageToken(token, "models");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, "md_0123456789ab");
  EXPECT_EQ(validation::ParsePageToken(token, "connections").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(validation::MakePageToken("models", ""), "");
  EXPECT_EQ(*validation::ParsePageToken("", "models"), "");
}

TEST(EffectivePageSize, ZeroMeansOneHundred) {
  EXPECT_EQ(*validation::EffectivePageSize(0), 100);
  EXPECT_EQ(*validation::EffectivePageSize(1000), 1000);
  EXPECT_FALSE(validation::EffectivePageSize(1001).ok());
  EXPECT_FALSE(validation::EffectivePageSize(-1).ok());
}

TEST(ValidateId, NeedsPrefixAndTwelveHexDigits) {
  EXPECT_TRUE(validation::ValidateId("cn_0123456789ab", "cn_", "id").ok());
  EXPECT_FALSE(validation::ValidateId("cn_0123456789aZ", "cn_", "id").ok());
  EXPECT_FALSE(validation::ValidateId("cn_0123456789a", "cn_", "id").ok());
  EXPECT_FALSE(validation::ValidateId("md_0123456789ab", "cn_", "id").ok());
  EXPECT_EQ(validation::ValidateId("", "cn_", "model.connection_id").message(),
            "model.connection_id is required");
}

TEST(ValidateConnection, AcceptsHttpAndHttpsEndpoints) {
  v1::Connection connection;
  connection.set_name("local");
  connection.set_provider("openai_compatible");
  connection.set_api_key("none-needed");
  for (const char* endpoint :
       {"http://localhost:11434/v1", "https://x.example.com",
        "HTTPS://X.EXAMPLE.COM/v1"}) {
    connection.set_endpoint(endpoint);
    EXPECT_TRUE(validation::ValidateConnection(connection, true).ok())
        << endpoint;
  }
  connection.set_endpoint("https://user:pw@x.example.com");
  EXPECT_FALSE(validation::ValidateConnection(connection, true).ok());
}

}  // namespace
}  // namespace llmproxy::controlplane
