#include "dataplane/usage_record.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "boost/json/parse.hpp"
#include "boost/json/value.hpp"
#include "dataplane/request_body.h"
#include "gtest/gtest.h"
#include "llmproxy/v1/usage_service.pb.h"

namespace llmproxy::dataplane {
namespace {

// A summary with every field set to something other than its default.
RequestSummary FullSummary() {
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
  return s;
}

TEST(UsageRecord, CarriesEveryFieldOfTheSummary) {
  const RequestSummary s = FullSummary();
  v1::UsageRecord r;
  ASSERT_TRUE(r.ParseFromString(SerializeUsageRecord(s, "dp-1")));
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
  // Every field of the message is written: a field added to the proto
  // fails here until SerializeUsageRecord writes it.
  const auto* descriptor = v1::UsageRecord::descriptor();
  const auto* reflection = v1::UsageRecord::GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    EXPECT_TRUE(reflection->HasField(r, descriptor->field(i)))
        << descriptor->field(i)->name();
  }
}

// The record the generated code would build from `s`, for comparison.
v1::UsageRecord ExpectedRecord(const RequestSummary& s,
                               std::string_view dataplane_id) {
  v1::UsageRecord r;
  r.set_request_id(std::string(s.request_id));
  r.set_virtual_key_id(std::string(s.virtual_key_id));
  r.set_model(std::string(s.model));
  r.set_remote_model(std::string(s.remote_model));
  r.set_connection_id(std::string(s.connection_id));
  r.set_assignment_id(std::string(s.assignment_id));
  r.set_dataplane_id(std::string(dataplane_id));
  r.set_prompt_tokens(s.prompt_tokens);
  r.set_completion_tokens(s.completion_tokens);
  r.set_cached_tokens(s.cached_tokens);
  r.set_cost_usd(s.cost_usd);
  r.set_http_status(s.http_status);
  r.set_status(std::string(UsageStatus(s)));
  r.set_latency_ms(s.latency_ms);
  r.set_ttft_ms(s.ttft_ms);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      s.start_time.time_since_epoch())
                      .count();
  r.mutable_start_time()->set_seconds(ns / 1'000'000'000);
  r.mutable_start_time()->set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
  r.set_streamed(s.streamed);
  r.set_endpoint(std::string(s.endpoint));
  return r;
}

TEST(UsageRecord, IsWhatTheGeneratedSerializerWrites) {
  // Defaults everywhere (nothing written but the empty timestamp and status),
  // a full record, odd values (negative counts and status, -0.0, long
  // strings with multi-byte lengths, a refused request).
  RequestSummary empty;
  RequestSummary full = FullSummary();
  full.request_id = "req_0192a3b4c5d6e7f8a9b0c1d2e3f4a5b6";
  full.start_time = std::chrono::system_clock::time_point(
      std::chrono::microseconds(1'700'000'000'123'456));
  const std::string long_model(300, 'm');
  RequestSummary odd = full;
  odd.model = long_model;
  odd.prompt_tokens = -1;
  odd.http_status = -2;
  odd.cost_usd = -0.0;
  odd.refused = LimitKind::kBudget;
  odd.client_abandoned = true;
  for (const RequestSummary* s : {&empty, &full, &odd}) {
    EXPECT_EQ(SerializeUsageRecord(*s, "dp-1"),
              ExpectedRecord(*s, "dp-1").SerializeAsString());
  }
  // Fields far longer than the writer's first estimate: it grows its buffer
  // mid-record and keeps what it wrote before.
  const std::string long_key(500, 'k'), long_connection(200, 'c'),
      long_node(1000, 'n');
  RequestSummary grown = full;
  grown.virtual_key_id = long_key;
  grown.connection_id = long_connection;
  EXPECT_EQ(SerializeUsageRecord(grown, long_node),
            ExpectedRecord(grown, long_node).SerializeAsString());
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

TEST(ExtractUsage, FindsTheTopLevelUsageWhereverItIsAndTheLastOneWins) {
  // Before other members, with a lookalike inside a later string.
  auto usage = ExtractUsage(
      R"({"usage":{"prompt_tokens":2,"completion_tokens":1},"id":"x",)"
      R"("choices":[{"message":{"content":"\"usage\":{\"prompt_tokens\":99}"}}]})");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, 2);
  EXPECT_EQ(usage->completion_tokens, 1);
  // A later string that ends in an escaped backslash, or holds brackets.
  usage = ExtractUsage(
      R"({"usage":{"prompt_tokens":5},"s":"a\\","t":"} ] { [","n":[1,{"usage":{"prompt_tokens":8}}]})");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, 5);
  // Repeated: the last one counts, as for a JSON parser that keeps the last.
  usage = ExtractUsage(
      R"({"usage":{"prompt_tokens":1},"usage":{"prompt_tokens":2}})");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, 2);
  // Pretty-printed, with whitespace everywhere and a trailing newline.
  usage = ExtractUsage(
      "{\n  \"id\" : \"x\" ,\n  \"usage\" : {\n    \"prompt_tokens\" : 3\n  } "
      ",\n  \"done\" : true \n}\n");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, 3);
}

TEST(ExtractUsage, RefusesADocumentThatIsNotOneObject) {
  EXPECT_FALSE(ExtractUsage(R"(x{"usage":{"prompt_tokens":3}})").has_value());
  EXPECT_FALSE(ExtractUsage(R"({"usage":{"prompt_tokens":3})").has_value());
  EXPECT_FALSE(ExtractUsage(R"({"usage":{"prompt_tokens":3}}})").has_value());
  EXPECT_FALSE(ExtractUsage(R"([{"usage":{"prompt_tokens":3}}])").has_value());
  EXPECT_FALSE(ExtractUsage(R"({"usage":{"prompt_tokens":3}} x)").has_value());
  EXPECT_FALSE(ExtractUsage(R"({"a":"}","usage")").has_value());
}

// The documented reading of the top-level usage object, from a complete
// parse of `doc`: counts are integers (negative: 0, fractional: rounded,
// anything else: 0), input_tokens/output_tokens stand in for absent
// prompt_tokens/completion_tokens, cached_tokens is read inside
// prompt_tokens_details only.
std::optional<TokenUsage> UsageByFullParse(const std::string& doc) {
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(doc, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const boost::json::value* usage = v.as_object().if_contains("usage");
  if (usage == nullptr || !usage->is_object()) return std::nullopt;
  const boost::json::object& u = usage->as_object();
  auto count = [](const boost::json::value* c) -> int64_t {
    if (c == nullptr) return 0;
    if (c->is_int64()) return std::max<int64_t>(0, c->as_int64());
    if (c->is_uint64()) return std::numeric_limits<int64_t>::max();
    if (c->is_double()) {
      const double d = c->as_double();
      if (d >= 9.2e18) return std::numeric_limits<int64_t>::max();
      return d <= 0 ? 0 : std::llround(d);
    }
    return 0;
  };
  TokenUsage t;
  t.prompt_tokens = u.contains("prompt_tokens")
                        ? count(u.if_contains("prompt_tokens"))
                        : count(u.if_contains("input_tokens"));
  t.completion_tokens = u.contains("completion_tokens")
                            ? count(u.if_contains("completion_tokens"))
                            : count(u.if_contains("output_tokens"));
  const boost::json::value* details = u.if_contains("prompt_tokens_details");
  if (details != nullptr && details->is_object()) {
    t.cached_tokens = count(details->as_object().if_contains("cached_tokens"));
  }
  return t;
}

TEST(ExtractUsage, SurvivesEveryTruncationAndCorruptionOfAnAnswer) {
  // Whatever a provider sends, the lookup stays inside the buffer (a stray
  // read shows under valgrind or a sanitizer build) and, whenever the whole
  // answer is valid JSON, agrees with a complete parse of it.
  const std::string answer =
      R"({"id":"c","choices":[{"message":{"content":"a \"q\" \\ } ]"}}],)"
      R"("usage":{"prompt_tokens":4,"completion_tokens":16},"fp":"x"})";
  ASSERT_TRUE(ExtractUsage(answer).has_value());
  for (std::size_t n = 0; n < answer.size(); ++n) {
    const std::string cut = answer.substr(0, n);
    EXPECT_FALSE(ExtractUsage(cut).has_value()) << cut;
  }
  for (std::size_t i = 0; i < answer.size(); ++i) {
    for (char c : {'"', '\\', '{', '}', '[', ']', ',', ':', ' '}) {
      std::string bad = answer;
      bad[i] = c;
      auto usage = ExtractUsage(bad);
      boost::json::error_code ec;
      boost::json::parse(bad, ec);
      if (!ec) {
        auto expected = UsageByFullParse(bad);
        ASSERT_EQ(usage.has_value(), expected.has_value()) << bad;
        if (expected) {
          EXPECT_EQ(usage->prompt_tokens, expected->prompt_tokens) << bad;
        }
      }
    }
  }
}

TEST(ExtractUsage, AgreesWithACompleteParseOnEveryCorruptionOfAUsageObject) {
  // A usage object as OpenAI sends it, cut short and corrupted one byte at a
  // time: whenever the document is still JSON, every count read is what a
  // complete parse of the document says; otherwise there is no usage.
  const std::string head = R"({"id":"c","choices":[],"usage":)";
  const std::string usage =
      R"({"prompt_tokens":14,"completion_tokens":160,"total_tokens":174,)"
      R"("prompt_tokens_details":{"cached_tokens":8,"audio_tokens":0},)"
      R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}})";
  const std::string tail = R"(,"system_fingerprint":"fp"})";
  auto check = [](const std::string& doc) {
    boost::json::error_code ec;
    boost::json::parse(doc, ec);
    if (ec) {
      EXPECT_FALSE(ExtractUsage(doc).has_value()) << doc;
      return;
    }
    std::optional<TokenUsage> got = ExtractUsage(doc);
    std::optional<TokenUsage> want = UsageByFullParse(doc);
    ASSERT_EQ(got.has_value(), want.has_value()) << doc;
    if (!want) return;
    EXPECT_EQ(got->prompt_tokens, want->prompt_tokens) << doc;
    EXPECT_EQ(got->completion_tokens, want->completion_tokens) << doc;
    EXPECT_EQ(got->cached_tokens, want->cached_tokens) << doc;
  };
  auto plain = ExtractUsage(head + usage + tail);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->prompt_tokens, 14);
  EXPECT_EQ(plain->completion_tokens, 160);
  EXPECT_EQ(plain->cached_tokens, 8);
  for (std::size_t i = 0; i < usage.size(); ++i) {
    check(head + usage.substr(0, i) + tail);
    for (char c : {'"', '\\', '{', '}', '[', ']', ',', ':', ' ', '.', '-', '0',
                   '9', 'e', 'x', '\x7f', '\xc3'}) {
      std::string bad = usage;
      bad[i] = c;
      check(head + bad + tail);
      bad = usage;
      bad.insert(i, 1, c);
      check(head + bad + tail);
    }
  }
  // Odd but valid shapes.
  for (
      const char* odd :
      {R"({"prompt_tokens":1.5e1,"completion_tokens":"3"})",
       R"({"prompt\u005ftokens":4,"completion_tokens":null})",
       R"({"prompt_tokens":99999999999999999999,"completion_tokens":-0})",
       R"({"prompt_tokens_details":{"cached_tokens":{"n":1}},"prompt_tokens":2})",
       R"({"input_tokens":[1],"output_tokens":true,"prompt_tokens_details":[]})",
       R"({"pr\u00f6mpt":1,"prompt_tokens":7})"}) {
    check(head + odd + tail);
  }
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
