#include "dataplane/request_limits.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace llmproxy::dataplane {
namespace {

constexpr int64_t kNanosPerMilli = 1'000'000;

// "2", "0.5", "1.25": integers without a fraction, others shortest.
std::string FormatNumber(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string FormatUsd(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "$%.2f", v);
  return buf;
}

std::string Where(const LimitScope& scope, std::string_view key_name) {
  std::string key = "virtual key '" + std::string(key_name) + "'";
  if (scope.assignment_id.empty()) return key;
  return "assignment " + scope.assignment_id + " of " + key;
}

ApiError RateLimitError(std::string message, std::string type) {
  return ApiError{429, std::move(message), std::move(type), "",
                  "rate_limit_exceeded"};
}

}  // namespace

int64_t EstimatePromptTokens(std::size_t prompt_bytes) {
  return std::max<int64_t>(1, static_cast<int64_t>(prompt_bytes / 4));
}

TokenEstimate EstimateTokens(const RequestFacts& facts, Operation op,
                             int64_t default_max_tokens) {
  TokenEstimate e;
  e.prompt = EstimatePromptTokens(facts.prompt_bytes);
  if (op != Operation::kEmbeddings) {
    e.completion = facts.max_tokens.has_value() && *facts.max_tokens > 0
                       ? *facts.max_tokens
                       : std::max<int64_t>(0, default_max_tokens);
  }
  return e;
}

int64_t CostMicros(const Deployment& deployment, int64_t prompt,
                   int64_t completion) {
  return std::llround(
      static_cast<double>(prompt) * deployment.input_price_per_million +
      static_cast<double>(completion) * deployment.output_price_per_million);
}

std::string FormatRateLimitReset(int64_t nanos) {
  if (nanos <= 0) return "0s";
  const int64_t ms = (nanos + kNanosPerMilli - 1) / kNanosPerMilli;
  if (ms < 1000) return std::to_string(ms) + "ms";
  const int64_t hours = ms / 3'600'000;
  const int64_t minutes = ms / 60'000 % 60;
  const int64_t millis_of_minute = ms % 60'000;
  std::string out;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  out += std::to_string(millis_of_minute / 1000);
  if (int64_t frac = millis_of_minute % 1000; frac != 0) {
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(frac));
    std::string f(buf);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  out += "s";
  return out;
}

void AppendRateLimitHeaders(const RateLimitStatus& status,
                            HeaderList& headers) {
  auto add = [&](const RateLimitStatus::Dimension& d, std::string_view name) {
    if (!d.present) return;
    const std::string suffix(name);
    headers.emplace_back("x-ratelimit-limit-" + suffix,
                         std::to_string(std::llround(std::floor(d.limit))));
    headers.emplace_back("x-ratelimit-remaining-" + suffix,
                         std::to_string(static_cast<int64_t>(
                             std::max(0.0, std::floor(d.remaining + 1e-9)))));
    headers.emplace_back("x-ratelimit-reset-" + suffix,
                         FormatRateLimitReset(d.reset_nanos));
  };
  add(status.requests, "requests");
  add(status.tokens, "tokens");
}

std::string_view LimitKindName(LimitKind kind) {
  switch (kind) {
    case LimitKind::kRequests:
      return "requests";
    case LimitKind::kTokens:
      return "tokens";
    case LimitKind::kConcurrency:
      return "concurrency";
    case LimitKind::kBudget:
      return "budget";
  }
  return "requests";
}

int64_t SecondsUntilPeriodEnd(std::string_view period,
                              std::chrono::system_clock::time_point now) {
  const absl::Time t = absl::FromChrono(now);
  const absl::TimeZone utc = absl::UTCTimeZone();
  absl::CivilSecond cs = absl::ToCivilSecond(t, utc);
  absl::Time end;
  if (period == "month") {
    end = absl::FromCivil(absl::CivilMonth(cs) + 1, utc);
  } else if (period == "week") {
    absl::CivilDay day(cs);
    absl::CivilDay next_monday = absl::NextWeekday(day, absl::Weekday::monday);
    end = absl::FromCivil(next_monday, utc);
  } else {  // "day", and a day for "total" (it never resets on its own)
    end = absl::FromCivil(absl::CivilDay(cs) + 1, utc);
  }
  return std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(end - t))));
}

LimitRefusalResponse RefusalResponse(
    const LimitRefusal& refusal, const LimitScope& scope,
    std::string_view key_name, const TokenEstimate& estimate,
    std::chrono::system_clock::time_point now) {
  LimitRefusalResponse out;
  const LimitSpec& spec = scope.spec;
  const std::string where = Where(scope, key_name);
  int64_t retry_nanos = refusal.retry_after_nanos;
  switch (refusal.kind) {
    case LimitKind::kRequests:
      out.error = RateLimitError(
          "Rate limit reached for requests on " + where +
              " (limit: " + FormatNumber(spec.requests_per_second) +
              " requests per second, burst " +
              FormatNumber(spec.effective_request_burst()) +
              "). Please try again in " + FormatRateLimitReset(retry_nanos) +
              ".",
          "requests");
      break;
    case LimitKind::kTokens:
      if (refusal.never_fits) {
        out.error = RateLimitError(
            "This request needs up to " + std::to_string(estimate.total()) +
                " tokens (prompt estimate " + std::to_string(estimate.prompt) +
                " + max_tokens " + std::to_string(estimate.completion) +
                "), more than the token limit of " + where +
                " can ever admit (limit: " +
                std::to_string(spec.tokens_per_minute) +
                " tokens per minute, burst " +
                FormatNumber(spec.effective_token_burst()) +
                "). Lower max_tokens or shorten the prompt.",
            "tokens");
      } else {
        out.error = RateLimitError(
            "Rate limit reached for tokens on " + where +
                " (limit: " + std::to_string(spec.tokens_per_minute) +
                " tokens per minute, burst " +
                FormatNumber(spec.effective_token_burst()) +
                "; this request needs up to " +
                std::to_string(estimate.total()) +
                " tokens). Please try again in " +
                FormatRateLimitReset(retry_nanos) + ".",
            "tokens");
      }
      break;
    case LimitKind::kConcurrency:
      out.error = RateLimitError(
          "Too many concurrent requests on " + where +
              " (limit: " + std::to_string(spec.max_concurrent) +
              " in flight). Please try again when one has finished.",
          "concurrency");
      break;
    case LimitKind::kBudget:
      retry_nanos =
          SecondsUntilPeriodEnd(scope.budget_period, now) * 1'000'000'000;
      out.error = ApiError{
          429,
          "Budget exceeded on " + where +
              " (limit: " + FormatUsd(spec.budget_usd) +
              (scope.budget_period == "total" ? std::string(" in total")
                                              : " per " + scope.budget_period) +
              ").",
          "insufficient_quota", "", "insufficient_quota"};
      break;
  }
  if (retry_nanos <= 0) retry_nanos = 1'000'000'000;  // unknown: a second
  const int64_t seconds =
      std::max<int64_t>(1, (retry_nanos + 999'999'999) / 1'000'000'000);
  const int64_t millis =
      std::max<int64_t>(1, (retry_nanos + kNanosPerMilli - 1) / kNanosPerMilli);
  out.headers.emplace_back("Retry-After", std::to_string(seconds));
  out.headers.emplace_back("retry-after-ms", std::to_string(millis));
  AppendRateLimitHeaders(refusal.status, out.headers);
  return out;
}

}  // namespace llmproxy::dataplane
