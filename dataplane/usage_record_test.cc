#include "dataplane/usage_record.h"

#include "dataplane/request_body.h"
#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

TEST(UsageRecord, CarriesEveryFieldOfTheSummary) {
  RequestSummary s;
  s.request_id = "req_1";
  s.virtual_key_id = "vk_team";
  s.model = "gpt";
  s.remote_model = "gpt-4o";
  s.connection_id = "cn_openai";
  s.assignment_id = "as_1";
  s.endpoint = "/v1/chat/completions";
  s.http_status = 200;
  s.streamed = true;
  s.prompt_tokens = 12;
  s.completion_tokens = 34;
  s.cached_tokens = 5;
  s.cost_usd = 0.00123;
  s.start_time = std::chrono::system_clock::time_point(
      std::chrono::milliseconds(1'700'000'000'250));
  s.latency_ms = 42.5;
  s.ttft_ms = 7.25;
  v1::UsageRecord r = MakeUsageRecord(s, "dp-1");
  EXPECT_EQ(r.request_id(), "req_1");
  EXPECT_EQ(r.virtual_key_id(), "vk_team");
  EXPECT_EQ(r.model(), "gpt");
  EXPECT_EQ(r.remote_model(), "gpt-4o");
  EXPECT_EQ(r.connection_id(), "cn_openai");
  EXPECT_EQ(r.assignment_id(), "as_1");
  EXPECT_EQ(r.dataplane_id(), "dp-1");
  EXPECT_EQ(r.endpoint(), "/v1/chat/completions");
  EXPECT_EQ(r.http_status(), 200);
  EXPECT_EQ(r.status(), "ok");
  EXPECT_TRUE(r.streamed());
  EXPECT_EQ(r.prompt_tokens(), 12);
  EXPECT_EQ(r.completion_tokens(), 34);
  EXPECT_EQ(r.cached_tokens(), 5);
  EXPECT_DOUBLE_EQ(r.cost_usd(), 0.00123);
  EXPECT_EQ(r.start_time().seconds(), 1'700'000'000);
  EXPECT_EQ(r.start_time().nanos(), 250'000'000);
  EXPECT_DOUBLE_EQ(r.latency_ms(), 42.5);
  EXPECT_DOUBLE_EQ(r.ttft_ms(), 7.25);
}

TEST(UsageRecord, StatusFollowsTheOutcome) {
  RequestSummary s;
  s.http_status = 429;
  s.refused = LimitKind::kTokens;
  EXPECT_EQ(UsageStatus(s), "rate_limited");
  s.refused = LimitKind::kBudget;
  EXPECT_EQ(UsageStatus(s), "budget_exceeded");
  s.refused.reset();
  EXPECT_EQ(UsageStatus(s), "rate_limited");  // the provider's own 429
  s.http_status = 401;
  EXPECT_EQ(UsageStatus(s), "client_error");
  s.http_status = 502;
  EXPECT_EQ(UsageStatus(s), "upstream_error");
  s.http_status = 200;
  EXPECT_EQ(UsageStatus(s), "ok");
  s.client_abandoned = true;
  EXPECT_EQ(UsageStatus(s), "client_abandoned");
}

TEST(ExtractUsage, ReadsANonStreamedBody) {
  auto usage = ExtractUsage(
      R"({"id":"x","choices":[{"message":{"content":"\"usage\": 1"}}],)"
      R"("usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18,)"
      R"("prompt_tokens_details":{"cached_tokens":4}}})");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, 11);
  EXPECT_EQ(usage->completion_tokens, 7);
  EXPECT_EQ(usage->cached_tokens, 4);
}

TEST(ExtractUsage, ReadsAnSseUsageChunkAndIgnoresNullOrNestedUsage) {
  auto usage = ExtractUsage(
      R"({"id":"c","object":"chat.completion.chunk","choices":[],)"
      R"("usage":{"prompt_tokens":3,"completion_tokens":9,"total_tokens":12}})");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->total(), 12);
  EXPECT_FALSE(ExtractUsage(R"({"choices":[],"usage":null})").has_value());
  EXPECT_FALSE(ExtractUsage(R"({"choices":[{"usage":{"prompt_tokens":1}}]})")
                   .has_value());
  EXPECT_FALSE(ExtractUsage("[DONE]").has_value());
  EXPECT_FALSE(ExtractUsage(R"({"usage":{"prompt_tokens":)").has_value());
}

TEST(ExtractUsage, EmbeddingsUsageHasOnlyPromptTokens) {
  auto usage = ExtractUsage(
      R"({"data":[],"usage":{"prompt_tokens":5,"total_tokens":5}})");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, 5);
  EXPECT_EQ(usage->completion_tokens, 0);
}

TEST(ExtractUsage, FallsBackToInputAndOutputTokens) {
  auto usage = ExtractUsage(
      R"({"usage":{"input_tokens":6,"output_tokens":2,"total_tokens":8}})");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, 6);
  EXPECT_EQ(usage->completion_tokens, 2);
  // The OpenAI names win when both are there.
  usage = ExtractUsage(
      R"({"usage":{"input_tokens":6,"prompt_tokens":1,"completion_tokens":3,)"
      R"("output_tokens":9}})");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, 1);
  EXPECT_EQ(usage->completion_tokens, 3);
}

TEST(ExtractUsage, ReadsOddNumbersAndKeysSafely) {
  // Negative counts are 0, fractional ones round, and a count that is not a
  // number counts as 0; an escaped key still matches.
  auto usage =
      ExtractUsage(R"({"usage":{"prompt_tokens":-5,"completion_tokens":2.6,)"
                   R"("prompt_tokens_details":{"cached_tokens":"7"},)"
                   R"("some_very_long_member_name_that_is_not_ours":1}})");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, 0);
  EXPECT_EQ(usage->completion_tokens, 3);
  EXPECT_EQ(usage->cached_tokens, 0);
  usage = ExtractUsage(
      R"({"usage":{"prompt\u005ftokens":4,"completion_tokens":null,)"
      R"("prompt_tokens_details":{"audio_tokens":1,"cached_tokens":2}}})");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, 4);
  EXPECT_EQ(usage->completion_tokens, 0);
  EXPECT_EQ(usage->cached_tokens, 2);
  // cached_tokens counts only inside prompt_tokens_details.
  usage =
      ExtractUsage(R"({"usage":{"cached_tokens":5,"x":{"cached_tokens":6}}})");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->cached_tokens, 0);
  // A usage object that is not valid JSON is ignored.
  EXPECT_FALSE(ExtractUsage(R"({"usage":{"prompt_tokens":1,,}})").has_value());
}

TEST(StripNullUsage, RemovesOnlyTheTopLevelNullUsage) {
  EXPECT_EQ(*StripNullUsage(R"({"id":"a","choices":[],"usage":null})"),
            R"({"id":"a","choices":[]})");
  EXPECT_EQ(*StripNullUsage(R"({"usage":null,"id":"a"})"), R"({"id":"a"})");
  EXPECT_EQ(*StripNullUsage(R"({"id":"a", "usage" : null , "x":1})"),
            R"({"id":"a" , "x":1})");
  EXPECT_FALSE(
      StripNullUsage(R"({"id":"a","usage":{"prompt_tokens":1}})").has_value());
  EXPECT_FALSE(StripNullUsage(R"({"id":"a"})").has_value());
  EXPECT_FALSE(StripNullUsage(R"({"choices":[{"usage":null}]})").has_value());
}

}  // namespace
}  // namespace llmproxy::dataplane
