#include "dataplane/request_limits.h"

#include <chrono>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "boost/json/parse.hpp"
#include "common/crypto/sha256.h"
#include "dataplane/limits/clock.h"
#include "dataplane/request_handler.h"
#include "dataplane/test_snapshot.h"
#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Header(const HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "<absent>";
}

TEST(EstimateTokens, PromptBytesOverFourPlusMaxTokens) {
  RequestFacts facts;
  facts.prompt_bytes = 403;
  facts.max_tokens = 50;
  TokenEstimate e = EstimateTokens(facts, Operation::kChatCompletions, 1024);
  EXPECT_EQ(e.prompt, 100);
  EXPECT_EQ(e.completion, 50);
  EXPECT_EQ(e.total(), 150);
}

TEST(EstimateTokens, DefaultWithoutMaxTokensAndAtLeastOnePromptToken) {
  RequestFacts facts;
  facts.prompt_bytes = 2;
  TokenEstimate e = EstimateTokens(facts, Operation::kCompletions, 1024);
  EXPECT_EQ(e.prompt, 1);
  EXPECT_EQ(e.completion, 1024);
}

TEST(EstimateTokens, EmbeddingsReserveNoCompletion) {
  RequestFacts facts;
  facts.prompt_bytes = 40;
  facts.max_tokens = 99;
  TokenEstimate e = EstimateTokens(facts, Operation::kEmbeddings, 1024);
  EXPECT_EQ(e.total(), 10);
}

TEST(EstimateTokens, PromptBytesComeFromTheRequestBody) {
  ApiError error;
  const std::string messages = R"([{"role":"user","content":"hello there"}])";
  auto facts = InspectRequestBody(
      R"({"model":"m","max_completion_tokens":7,"messages":)" + messages + "}",
      Operation::kChatCompletions, &error);
  ASSERT_TRUE(facts.ok());
  EXPECT_EQ(facts->prompt_bytes, messages.size());
  EXPECT_EQ(facts->max_tokens, 7);
}

TEST(CostMicros, PricesAreMicroDollarsPerToken) {
  Deployment d;
  d.input_price_per_million = 2.5;
  d.output_price_per_million = 10;
  EXPECT_EQ(CostMicros(d, 1000, 100), 3500);  // $0.0035
}

TEST(FormatRateLimitReset, UsesOpenAIDurations) {
  EXPECT_EQ(FormatRateLimitReset(0), "0s");
  EXPECT_EQ(FormatRateLimitReset(1), "1ms");  // rounded up
  EXPECT_EQ(FormatRateLimitReset(250'000'000), "250ms");
  EXPECT_EQ(FormatRateLimitReset(1'000'000'000), "1s");
  EXPECT_EQ(FormatRateLimitReset(1'500'000'000), "1.5s");
  EXPECT_EQ(FormatRateLimitReset(360'000'000'000), "6m0s");
  EXPECT_EQ(FormatRateLimitReset(61'020'000'000), "1m1.02s");
  EXPECT_EQ(FormatRateLimitReset(3'723'000'000'000), "1h2m3s");
}

TEST(AppendRateLimitHeaders, WritesBothTriosWithWholeNumbers) {
  RateLimitStatus status;
  status.requests = {.present = true,
                     .limit = 10,
                     .remaining = 8.7,
                     .reset_nanos = 130'000'000};
  status.tokens = {.present = true,
                   .limit = 40000,
                   .remaining = -5,
                   .reset_nanos = 360'000'000'000};
  HeaderList h;
  AppendRateLimitHeaders(status, h);
  ASSERT_EQ(h.size(), 6u);
  EXPECT_EQ(Header(h, "x-ratelimit-limit-requests"), "10");
  EXPECT_EQ(Header(h, "x-ratelimit-remaining-requests"), "8");
  EXPECT_EQ(Header(h, "x-ratelimit-reset-requests"), "130ms");
  EXPECT_EQ(Header(h, "x-ratelimit-limit-tokens"), "40000");
  EXPECT_EQ(Header(h, "x-ratelimit-remaining-tokens"), "0");
  EXPECT_EQ(Header(h, "x-ratelimit-reset-tokens"), "6m0s");
}

TEST(AppendRateLimitHeaders, OmitsDimensionsWithoutALimit) {
  RateLimitStatus status;
  status.tokens = {.present = true, .limit = 100, .remaining = 50};
  HeaderList h;
  AppendRateLimitHeaders(status, h);
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(Header(h, "x-ratelimit-limit-requests"), "<absent>");
}

TEST(SecondsUntilPeriodEnd, DayWeekMonthInUtc) {
  // Wednesday 2025-01-15 12:00:00 UTC.
  auto now = absl::ToChronoTime(absl::FromCivil(
      absl::CivilSecond(2025, 1, 15, 12, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(SecondsUntilPeriodEnd("day", now), 12 * 3600);
  EXPECT_EQ(SecondsUntilPeriodEnd("week", now), (4 * 24 + 12) * 3600);
  EXPECT_EQ(SecondsUntilPeriodEnd("month", now), (16 * 24 + 12) * 3600);
}

LimitScope KeyScope(LimitSpec spec) {
  return LimitScope{.scope_id = "vk_team",
                    .virtual_key_id = "vk_team",
                    .assignment_id = "",
                    .spec = spec,
                    .budget_period = "month"};
}

TEST(RefusalResponse, RequestsRefusalNamesTheLimitAndSetsHeaders) {
  LimitRefusal refusal;
  refusal.kind = LimitKind::kRequests;
  refusal.retry_after_nanos = 500'000'000;
  refusal.status.requests = {.present = true,
                             .limit = 2,
                             .remaining = 0,
                             .reset_nanos = 1'000'000'000};
  LimitRefusalResponse r = RefusalResponse(
      refusal, KeyScope({.requests_per_second = 2, .request_burst = 2}), "team",
      {}, std::chrono::system_clock::now());
  EXPECT_EQ(r.error.status, 429);
  EXPECT_EQ(r.error.code, "rate_limit_exceeded");
  EXPECT_EQ(r.error.type, "requests");
  EXPECT_NE(r.error.message.find("virtual key 'team'"), std::string::npos);
  EXPECT_NE(r.error.message.find("2 requests per second"), std::string::npos);
  auto body = boost::json::parse(r.error.ToJson());
  EXPECT_EQ(body.at("error").at("code").as_string(), "rate_limit_exceeded");
  EXPECT_EQ(Header(r.headers, "Retry-After"), "1");
  EXPECT_EQ(Header(r.headers, "retry-after-ms"), "500");
  EXPECT_EQ(Header(r.headers, "x-ratelimit-limit-requests"), "2");
  EXPECT_EQ(Header(r.headers, "x-ratelimit-remaining-requests"), "0");
  EXPECT_EQ(Header(r.headers, "x-ratelimit-reset-requests"), "1s");
}

TEST(RefusalResponse, RetryAfterRoundsUpToWholeSeconds) {
  LimitRefusal refusal;
  refusal.kind = LimitKind::kTokens;
  refusal.retry_after_nanos = 2'100'000'000;
  LimitRefusalResponse r = RefusalResponse(
      refusal, KeyScope({.tokens_per_minute = 100}), "team",
      {.prompt = 10, .completion = 20}, std::chrono::system_clock::now());
  EXPECT_EQ(r.error.type, "tokens");
  EXPECT_EQ(Header(r.headers, "Retry-After"), "3");
  EXPECT_EQ(Header(r.headers, "retry-after-ms"), "2100");
  EXPECT_NE(r.error.message.find("100 tokens per minute"), std::string::npos);
}

TEST(RefusalResponse, ARequestThatCanNeverFitSaysSo) {
  LimitRefusal refusal;
  refusal.kind = LimitKind::kTokens;
  refusal.never_fits = true;
  refusal.retry_after_nanos = 1;
  LimitRefusalResponse r = RefusalResponse(
      refusal, KeyScope({.tokens_per_minute = 100}), "team",
      {.prompt = 10, .completion = 1024}, std::chrono::system_clock::now());
  EXPECT_EQ(r.error.status, 429);
  EXPECT_NE(r.error.message.find("1034 tokens"), std::string::npos);
  EXPECT_NE(r.error.message.find("can ever admit"), std::string::npos);
}

TEST(RefusalResponse, ConcurrencyAndBudget) {
  LimitRefusal concurrency;
  concurrency.kind = LimitKind::kConcurrency;
  LimitScope assignment = KeyScope({.max_concurrent = 3});
  assignment.assignment_id = "as_1";
  LimitRefusalResponse c = RefusalResponse(concurrency, assignment, "team", {},
                                           std::chrono::system_clock::now());
  EXPECT_EQ(c.error.code, "rate_limit_exceeded");
  EXPECT_EQ(c.error.type, "concurrency");
  EXPECT_NE(c.error.message.find("assignment as_1 of virtual key 'team'"),
            std::string::npos);
  EXPECT_NE(c.error.message.find("limit: 3 in flight"), std::string::npos);
  EXPECT_EQ(Header(c.headers, "Retry-After"), "1");

  LimitRefusal budget;
  budget.kind = LimitKind::kBudget;
  LimitRefusalResponse b =
      RefusalResponse(budget, KeyScope({.budget_usd = 10}), "team", {},
                      std::chrono::system_clock::now());
  EXPECT_EQ(b.error.code, "insufficient_quota");
  EXPECT_EQ(b.error.type, "insufficient_quota");
  EXPECT_NE(b.error.message.find("$10.00 per month"), std::string::npos);
  EXPECT_GE(std::stoll(Header(b.headers, "Retry-After")), 1);
}

// The handler admits against the key's and the assignment's limits.
class LimitedHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v1::ConfigSnapshot proto = testing::SampleSnapshot();
    for (auto& k : *proto.mutable_virtual_keys()) {
      if (k.id() == "vk_team") {
        k.mutable_limits()->set_requests_per_second(2);
        k.mutable_limits()->set_request_burst(2);
      }
    }
    for (auto& a : *proto.mutable_assignments()) {
      if (a.id() == "as_5") a.mutable_limits()->set_tokens_per_minute(600);
    }
    snapshot_ = *ConfigSnapshot::Build(proto, &registry_);
  }
  HandlerResult Chat(std::string_view key, std::string_view model,
                     RequestInfo* info = nullptr) {
    std::string body = R"({"model":")" + std::string(model) +
                       R"(","messages":[{"role":"user","content":"hi"}]})";
    if (model == "emb") body = R"({"model":"emb","input":"0123456789ab"})";
    ClientRequest req{
        "POST", model == "emb" ? "/v1/embeddings" : "/v1/chat/completions", key,
        body};
    return HandleClientRequest(
        req, snapshot_, options_, std::chrono::system_clock::now(),
        [](uint64_t) -> uint64_t { return 0; }, info);
  }

  ManualClock clock_;
  LimitRegistry registry_{clock_};
  ConfigSnapshotPtr snapshot_;
  HandlerOptions options_{.master_key_sha256 = Sha256Hex("sk-master")};
};

TEST_F(LimitedHandlerTest, KeyLimitAdmitsTheBurstThenRefusesWith429) {
  std::vector<HandlerResult> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(Chat("sk-team", "gpt"));
    ASSERT_TRUE(std::holds_alternative<ProxyPlan>(held.back()));
    const ProxyPlan& plan = std::get<ProxyPlan>(held.back());
    EXPECT_TRUE(plan.admission.has_value());
    EXPECT_EQ(Header(plan.rate_limit_headers, "x-ratelimit-limit-requests"),
              "2");
    EXPECT_EQ(Header(plan.rate_limit_headers, "x-ratelimit-remaining-requests"),
              i == 0 ? "1" : "0");
  }
  RequestInfo info;
  HandlerResult refused = Chat("sk-team", "gpt", &info);
  ASSERT_TRUE(std::holds_alternative<DirectResponse>(refused));
  const DirectResponse& r = std::get<DirectResponse>(refused);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(Header(r.headers, "Retry-After"), "1");
  EXPECT_EQ(Header(r.headers, "retry-after-ms"), "500");
  EXPECT_EQ(info.refused, LimitKind::kRequests);
  EXPECT_EQ(info.virtual_key_id, "vk_team");
  EXPECT_EQ(info.model, "gpt");
  EXPECT_EQ(info.assignment_id, "as_1");
  clock_.Advance(milliseconds(500));
  EXPECT_TRUE(std::holds_alternative<ProxyPlan>(Chat("sk-team", "gpt")));
}

TEST_F(LimitedHandlerTest, AssignmentTokenLimitReservesTheEstimate) {
  // "0123456789ab" is 14 bytes of JSON: 3 tokens, no completion.
  HandlerResult first = Chat("sk-other", "emb");
  ASSERT_TRUE(std::holds_alternative<ProxyPlan>(first));
  const ProxyPlan& plan = std::get<ProxyPlan>(first);
  EXPECT_EQ(plan.estimate.total(), 3);
  EXPECT_EQ(plan.attempts[0].assignment->id, "as_5");
  EXPECT_EQ(Header(plan.rate_limit_headers, "x-ratelimit-remaining-tokens"),
            "597");
  EXPECT_EQ(Header(plan.rate_limit_headers, "x-ratelimit-limit-requests"),
            "<absent>");
}

TEST_F(LimitedHandlerTest, TheMasterKeyIsNotLimited) {
  for (int i = 0; i < 5; ++i) {
    HandlerResult r = Chat("sk-master", "gpt");
    ASSERT_TRUE(std::holds_alternative<ProxyPlan>(r));
    EXPECT_FALSE(std::get<ProxyPlan>(r).admission.has_value());
  }
}

}  // namespace
}  // namespace llmproxy::dataplane
