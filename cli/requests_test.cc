#include "cli/requests.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace llmproxy::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

const absl::Time kNow = absl::FromUnixSeconds(1717243200);  // 2024-06-01 12:00Z

std::vector<std::string> Paths(const google::protobuf::FieldMask& mask) {
  return {mask.paths().begin(), mask.paths().end()};
}

TEST(CreateConnection, CopiesEveryFlag) {
  ConnectionFlags f;
  f.name = "oai";
  f.provider = "openai";
  f.endpoint = "https://api.openai.com/v1";
  f.api_key = "sk-secret";
  f.headers = std::vector<std::string>{"X-A=1", "X-B=a=b"};
  f.timeout_ms = 3000;
  f.enabled = false;
  absl::StatusOr<v1::CreateConnectionRequest> req =
      MakeCreateConnectionRequest(f);
  ASSERT_TRUE(req.ok()) << req.status();
  const v1::Connection& c = req->connection();
  EXPECT_EQ(c.name(), "oai");
  EXPECT_EQ(c.provider(), "openai");
  EXPECT_EQ(c.api_key(), "sk-secret");
  EXPECT_EQ(c.extra_headers().at("X-A"), "1");
  EXPECT_EQ(c.extra_headers().at("X-B"), "a=b");
  EXPECT_EQ(c.timeout_ms(), 3000);
  ASSERT_TRUE(c.has_enabled());
  EXPECT_FALSE(c.enabled());
}

TEST(CreateConnection, LeavesEnabledUnsetWhenNotGiven) {
  ConnectionFlags f;
  f.name = "x";
  EXPECT_FALSE(MakeCreateConnectionRequest(f)->connection().has_enabled());
}

TEST(CreateConnection, RejectsHeaderWithoutEquals) {
  ConnectionFlags f;
  f.headers = std::vector<std::string>{"X-A"};
  absl::StatusOr<v1::CreateConnectionRequest> req =
      MakeCreateConnectionRequest(f);
  ASSERT_FALSE(req.ok());
  EXPECT_THAT(std::string(req.status().message()),
              ::testing::HasSubstr("--header wants KEY=VALUE"));
}

TEST(UpdateConnection, MaskHoldsOnlyTheFlagsGiven) {
  ConnectionFlags f;
  f.endpoint = "http://new";
  f.enabled = true;
  absl::StatusOr<v1::UpdateConnectionRequest> req =
      MakeUpdateConnectionRequest("cn_1", f, "7");
  ASSERT_TRUE(req.ok());
  EXPECT_THAT(Paths(req->update_mask()), ElementsAre("endpoint", "enabled"));
  EXPECT_EQ(req->connection().id(), "cn_1");
  EXPECT_EQ(req->connection().etag(), "7");
  EXPECT_EQ(req->connection().endpoint(), "http://new");
}

TEST(UpdateConnection, RefusesAnEmptyMask) {
  // An empty update_mask means "every field" to the server: never send one.
  absl::StatusOr<v1::UpdateConnectionRequest> req =
      MakeUpdateConnectionRequest("cn_1", ConnectionFlags(), "");
  ASSERT_FALSE(req.ok());
  EXPECT_EQ(req.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(UpdateConnection, ZeroIsAValueNotAbsence) {
  ConnectionFlags f;
  f.timeout_ms = 0;
  EXPECT_THAT(Paths(MakeUpdateConnectionRequest("cn_1", f, "")->update_mask()),
              ElementsAre("timeout_ms"));
}

TEST(UpdateModel, MapsPriceFlagsToProtoNames) {
  ModelFlags f;
  f.input_price = 0.15;
  f.output_price = 0.6;
  f.remote_model = "gpt-4o-mini";
  absl::StatusOr<v1::UpdateModelRequest> req =
      MakeUpdateModelRequest("md_1", f, "");
  ASSERT_TRUE(req.ok());
  EXPECT_THAT(Paths(req->update_mask()),
              UnorderedElementsAre("remote_model", "input_price_per_million",
                                   "output_price_per_million"));
  EXPECT_DOUBLE_EQ(req->model().input_price_per_million(), 0.15);
}

TEST(CreateModel, RejectsNegativePrice) {
  ModelFlags f;
  f.input_price = -1;
  EXPECT_FALSE(MakeCreateModelRequest(f).ok());
}

TEST(CreateVirtualKey, LimitsGoToTheAssignmentWhenATargetIsGiven) {
  VirtualKeyFlags f;
  f.name = "team-a";
  f.model_id = "md_1";
  f.limits.requests_per_second = 5;
  f.limits.tokens_per_minute = 1000;
  f.limits.budget_usd = 10;
  f.limits.budget_period = "week";
  absl::StatusOr<CreateVirtualKeyPlan> plan = MakeCreateVirtualKeyPlan(f, kNow);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE(plan->key.virtual_key().has_limits());
  ASSERT_TRUE(plan->assignment.has_value());
  const v1::Assignment& a = plan->assignment->assignment();
  EXPECT_EQ(a.model_id(), "md_1");
  EXPECT_DOUBLE_EQ(a.limits().requests_per_second(), 5);
  EXPECT_EQ(a.limits().tokens_per_minute(), 1000);
  EXPECT_DOUBLE_EQ(a.limits().budget_usd(), 10);
  EXPECT_EQ(a.limits().budget_period(), "week");
}

TEST(CreateVirtualKey, LimitsAreKeyWideWithoutATarget) {
  VirtualKeyFlags f;
  f.name = "team-a";
  f.limits.max_concurrent = 3;
  absl::StatusOr<CreateVirtualKeyPlan> plan = MakeCreateVirtualKeyPlan(f, kNow);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->assignment.has_value());
  EXPECT_EQ(plan->key.virtual_key().limits().max_concurrent(), 3);
}

TEST(CreateVirtualKey, CopiesKeyExpiryAndMetadata) {
  VirtualKeyFlags f;
  f.name = "k";
  f.key = "sk-lp-given";
  f.expires = "30d";
  f.metadata = std::vector<std::string>{"owner=ml", "team=search"};
  absl::StatusOr<CreateVirtualKeyPlan> plan = MakeCreateVirtualKeyPlan(f, kNow);
  ASSERT_TRUE(plan.ok());
  const v1::VirtualKey& k = plan->key.virtual_key();
  EXPECT_EQ(k.key(), "sk-lp-given");
  EXPECT_EQ(k.expire_time().seconds(),
            absl::ToUnixSeconds(kNow + absl::Hours(24 * 30)));
  EXPECT_EQ(k.metadata().at("team"), "search");
}

TEST(CreateVirtualKey, RejectsBothTargets) {
  VirtualKeyFlags f;
  f.connection_id = "cn_1";
  f.model_id = "md_1";
  EXPECT_FALSE(MakeCreateVirtualKeyPlan(f, kNow).ok());
}

TEST(CreateVirtualKey, RejectsUnknownBudgetPeriod) {
  VirtualKeyFlags f;
  f.limits.budget_period = "year";
  EXPECT_FALSE(MakeCreateVirtualKeyPlan(f, kNow).ok());
}

TEST(UpdateVirtualKey, LimitFlagsMergeIntoTheCurrentLimits) {
  v1::Limits current;
  current.set_requests_per_second(1);
  current.set_tokens_per_minute(500);
  VirtualKeyFlags f;
  f.limits.tokens_per_minute = 900;
  absl::StatusOr<v1::UpdateVirtualKeyRequest> req =
      MakeUpdateVirtualKeyRequest("vk_1", f, current, "3", kNow);
  ASSERT_TRUE(req.ok());
  EXPECT_THAT(Paths(req->update_mask()), ElementsAre("limits"));
  EXPECT_DOUBLE_EQ(req->virtual_key().limits().requests_per_second(), 1);
  EXPECT_EQ(req->virtual_key().limits().tokens_per_minute(), 900);
}

TEST(UpdateVirtualKey, NeverClearsTheExpiry) {
  VirtualKeyFlags f;
  f.expires = "never";
  absl::StatusOr<v1::UpdateVirtualKeyRequest> req =
      MakeUpdateVirtualKeyRequest("vk_1", f, v1::Limits(), "", kNow);
  ASSERT_TRUE(req.ok());
  EXPECT_THAT(Paths(req->update_mask()), ElementsAre("expire_time"));
  EXPECT_FALSE(req->virtual_key().has_expire_time());
}

TEST(UpdateVirtualKey, RefusesToChangeTheKey) {
  VirtualKeyFlags f;
  f.key = "sk-new";
  EXPECT_FALSE(
      MakeUpdateVirtualKeyRequest("vk_1", f, v1::Limits(), "", kNow).ok());
}

TEST(CreateAssignment, NeedsATarget) {
  AssignmentFlags f;
  f.virtual_key_id = "vk_1";
  EXPECT_FALSE(MakeCreateAssignmentRequest(f).ok());
  f.connection_id = "cn_1";
  f.limits.requests_per_second = 2;
  absl::StatusOr<v1::CreateAssignmentRequest> req =
      MakeCreateAssignmentRequest(f);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->assignment().connection_id(), "cn_1");
  EXPECT_DOUBLE_EQ(req->assignment().limits().requests_per_second(), 2);
}

TEST(UpdateAssignment, TargetAndLimits) {
  AssignmentFlags f;
  f.model_id = "md_2";
  f.limits.budget_usd = 0;  // given as zero: removes the budget
  v1::Limits current;
  current.set_budget_usd(50);
  absl::StatusOr<v1::UpdateAssignmentRequest> req =
      MakeUpdateAssignmentRequest("as_1", f, current, "");
  ASSERT_TRUE(req.ok());
  EXPECT_THAT(Paths(req->update_mask()), ElementsAre("model_id", "limits"));
  EXPECT_DOUBLE_EQ(req->assignment().limits().budget_usd(), 0);
}

TEST(ParseGroupBy, AcceptsAliasesAndDeduplicates) {
  EXPECT_THAT(*ParseGroupBy("key, model,conn,vkey"),
              ElementsAre("virtual_key", "model", "connection"));
  EXPECT_FALSE(ParseGroupBy("team").ok());
}

TEST(QueryUsage, DefaultsToTheLastDay) {
  absl::StatusOr<v1::QueryUsageRequest> req =
      MakeQueryUsageRequest(UsageFlags(), kNow);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->start_time().seconds(),
            absl::ToUnixSeconds(kNow - absl::Hours(24)));
  EXPECT_FALSE(req->has_end_time());
  EXPECT_EQ(req->granularity(), "");
}

TEST(QueryUsage, MapsEveryFlag) {
  UsageFlags f;
  f.from = "-7d";
  f.to = "2024-06-01T12:00:00Z";
  f.by = "key,model";
  f.granularity = "day";
  f.virtual_key_id = "vk_1";
  f.model = "gpt";
  absl::StatusOr<v1::QueryUsageRequest> req = MakeQueryUsageRequest(f, kNow);
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->start_time().seconds(),
            absl::ToUnixSeconds(kNow - absl::Hours(24 * 7)));
  EXPECT_EQ(req->end_time().seconds(), absl::ToUnixSeconds(kNow));
  EXPECT_THAT(req->group_by(), ElementsAre("virtual_key", "model"));
  EXPECT_EQ(req->granularity(), "day");
  EXPECT_EQ(req->virtual_key_id(), "vk_1");
  EXPECT_EQ(req->model(), "gpt");
}

TEST(QueryUsage, RejectsEndBeforeStart) {
  UsageFlags f;
  f.from = "-1h";
  f.to = "-2h";
  EXPECT_FALSE(MakeQueryUsageRequest(f, kNow).ok());
}

}  // namespace
}  // namespace llmproxy::cli
