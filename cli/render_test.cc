#include "cli/render.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace llmproxy::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(LimitsSummary, ListsOnlyLimitsThatAreSet) {
  v1::Limits l;
  EXPECT_EQ(LimitsSummary(l), "");
  l.set_requests_per_second(2.5);
  l.set_tokens_per_minute(1000);
  l.set_budget_usd(10);
  EXPECT_EQ(LimitsSummary(l), "rps=2.5 tpm=1000 budget=$10/month");
}

TEST(RenderConnections, ShowsTheMaskNeverTheKey) {
  google::protobuf::RepeatedPtrField<v1::Connection> items;
  v1::Connection* c = items.Add();
  c->set_id("cn_000000000001");
  c->set_name("oai");
  c->set_provider("openai");
  c->set_endpoint("https://api.openai.com/v1");
  c->set_api_key("sk-supersecretvalue1234");  // must not be printed
  c->set_api_key_masked(
      "sk-\xE2\x80\xA6"
      "1234");
  c->set_etag("3");
  std::string out = RenderConnections(items);
  EXPECT_EQ(out,
            "ID               NAME  PROVIDER  ENDPOINT                   "
            "API_KEY   ENABLED  ETAG\n"
            "cn_000000000001  oai   openai    https://api.openai.com/v1  "
            "sk-\xE2\x80\xA6"
            "1234  yes      3\n");
  EXPECT_THAT(RenderConnection(*c), Not(HasSubstr("supersecret")));
}

TEST(RenderVirtualKeys, ShowsPrefixAndDisabled) {
  google::protobuf::RepeatedPtrField<v1::VirtualKey> items;
  v1::VirtualKey* k = items.Add();
  k->set_id("vk_1");
  k->set_name("team");
  k->set_key_prefix("sk-lp-abcd\xE2\x80\xA6");
  k->set_enabled(false);
  std::string out = RenderVirtualKeys(items);
  EXPECT_THAT(out, HasSubstr("sk-lp-abcd\xE2\x80\xA6  no"));
}

TEST(RenderAssignments, NamesTheTarget) {
  google::protobuf::RepeatedPtrField<v1::Assignment> items;
  v1::Assignment* a = items.Add();
  a->set_id("as_1");
  a->set_virtual_key_id("vk_1");
  a->set_model_id("md_1");
  EXPECT_THAT(RenderAssignments(items), HasSubstr("model md_1"));
}

TEST(RenderUsage, ColumnsFollowTheQuery) {
  v1::QueryUsageRequest q;
  q.add_group_by("model");
  q.set_granularity("day");
  v1::QueryUsageResponse r;
  v1::UsageRow* row = r.add_rows();
  row->mutable_bucket_start()->set_seconds(1717200000);  // 2024-06-01
  row->set_model("gpt");
  row->set_requests(3);
  row->set_prompt_tokens(30);
  row->set_completion_tokens(12);
  row->set_cost_usd(0.5);
  EXPECT_EQ(RenderUsage(q, r),
            "BUCKET                MODEL  REQUESTS  ERRORS  PROMPT_TOKENS  "
            "COMPLETION_TOKENS  COST_USD\n"
            "2024-06-01T00:00:00Z  gpt    3         0       30             "
            "12                 0.500000\n");
}

TEST(ToJson, UsesProtoFieldNamesAndPrintsZeros) {
  v1::Model m;
  m.set_id("md_1");
  std::string json = ToJson(m);
  EXPECT_THAT(json, HasSubstr("\"remote_model\": \"\""));
  EXPECT_THAT(json, HasSubstr("\"weight\": 0"));
}

TEST(FormatNumber, TrimsZeros) {
  EXPECT_EQ(FormatNumber(3), "3");
  EXPECT_EQ(FormatNumber(0.15), "0.15");
}

}  // namespace
}  // namespace llmproxy::cli
