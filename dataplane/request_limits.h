#pragma once

// Limits on the request path: the token and cost estimate reserved before a
// request leaves, the 429 answered when a limit refuses it, and the OpenAI
// x-ratelimit-* headers. No sockets here, so all of it is unit tested.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "dataplane/config_snapshot.h"
#include "dataplane/limits/admission.h"
#include "dataplane/openai_error.h"
#include "dataplane/provider_adapter.h"
#include "dataplane/request_body.h"

namespace llmproxy::dataplane {

// Tokens a request is expected to use, reserved before it is forwarded.
struct TokenEstimate {
  // max(1, bytes of the JSON value of messages / prompt / input / 4).
  int64_t prompt = 0;
  // max_tokens (or max_completion_tokens) when the request gives it, else
  // the configured default; 0 for embeddings, which produce no completion.
  int64_t completion = 0;
  int64_t total() const { return prompt + completion; }
};

TokenEstimate EstimateTokens(const RequestFacts& facts, Operation op,
                             int64_t default_max_tokens);

// The prompt part of the estimate for `prompt_bytes` bytes of JSON.
int64_t EstimatePromptTokens(std::size_t prompt_bytes);

// Cost in micro-USD of `prompt` + `completion` tokens at `deployment`'s prices
// (USD per million tokens, i.e. micro-USD per token), rounded to the nearest
// micro-dollar.
int64_t CostMicros(const Deployment& deployment, int64_t prompt,
                   int64_t completion);

// A duration in OpenAI's x-ratelimit-reset-* format (Go's time.Duration
// text), rounded up to the millisecond: "0s", "250ms", "1s", "1.5s", "6m0s",
// "1h2m3s".
std::string FormatRateLimitReset(int64_t nanos);

// x-ratelimit-limit-/remaining-/reset- requests and tokens, for the
// dimensions `status` has (the scope with the least left of each). Limits and
// remaining counts are whole numbers (remaining rounded down, never below 0).
void AppendRateLimitHeaders(const RateLimitStatus& status, HeaderList& headers);

// The 429 for a refusal, with its headers: Retry-After (whole seconds, rounded
// up, at least 1), retry-after-ms, and the x-ratelimit-* headers.
struct LimitRefusalResponse {
  ApiError error;
  HeaderList headers;
};

// `scope` is the key's or assignment's configured limits that refused;
// `key_name` names the key in the message. A budget refusal's Retry-After is
// the time until the budget period ends (UTC; a day for "total").
LimitRefusalResponse RefusalResponse(const LimitRefusal& refusal,
                                     const LimitScope& scope,
                                     std::string_view key_name,
                                     const TokenEstimate& estimate,
                                     std::chrono::system_clock::time_point now);

// The metrics label of a refusal kind: "requests", "tokens", "concurrency",
// "budget".
std::string_view LimitKindName(LimitKind kind);

// Seconds from `now` until the budget period ("day", "week" from Monday
// 00:00 UTC, "month"; anything else: one day) that contains it ends.
int64_t SecondsUntilPeriodEnd(std::string_view period,
                              std::chrono::system_clock::time_point now);

}  // namespace llmproxy::dataplane
