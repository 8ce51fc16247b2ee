#pragma once

// The usage record of one finished request, assembled from what the request
// path learned along the way.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dataplane/limits/admission.h"

namespace llmproxy::dataplane {

// Everything a finished request contributes to its usage record. The strings
// are views of the request's own state, read while the record is written.
struct RequestSummary {
  std::string_view request_id;
  std::string_view virtual_key_id;  // empty: master key or not authenticated
  std::string_view model;           // alias the client asked for
  std::string_view remote_model;    // model sent upstream
  std::string_view connection_id;   // empty when no provider was reached
  std::string_view assignment_id;
  std::string_view endpoint;  // e.g. "/v1/chat/completions"
  int http_status = 0;
  // Set when a limit refused the request (429 from the data plane).
  std::optional<LimitKind> refused;
  // The client went away before the response was complete.
  bool client_abandoned = false;
  bool streamed = false;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
  double cost_usd = 0;
  std::chrono::system_clock::time_point start_time;
  double latency_ms = 0;
  double ttft_ms = 0;  // 0 when no response byte was sent
};

// The record's status: "client_abandoned" when the client went away,
// "rate_limited" / "budget_exceeded" for a limit's 429, "ok" for 2xx (and
// 3xx), "rate_limited" for a provider's 429, "client_error" for other 4xx,
// "upstream_error" for 5xx.
std::string_view UsageStatus(const RequestSummary& summary);

// The request's llmproxy.v1.UsageRecord in its wire form, written straight
// from the summary: byte for byte what the generated serializer writes for the
// same record, without building the message (one allocation, instead of one
// per string field and as many frees later). The reporter spools these bytes
// and sends them as they are.
std::string SerializeUsageRecord(const RequestSummary& summary,
                                 std::string_view dataplane_id);

}  // namespace llmproxy::dataplane
