#include "dataplane/usage_record.h"

#include <string>
#include <utility>

namespace llmproxy::dataplane {

std::string_view UsageStatus(const RequestSummary& s) {
  if (s.client_abandoned) return "client_abandoned";
  if (s.refused.has_value()) {
    return *s.refused == LimitKind::kBudget ? "budget_exceeded"
                                            : "rate_limited";
  }
  if (s.http_status < 400) return "ok";
  if (s.http_status == 429) return "rate_limited";
  if (s.http_status < 500) return "client_error";
  return "upstream_error";
}

llmproxy::v1::UsageRecord MakeUsageRecord(const RequestSummary& s,
                                          std::string_view dataplane_id) {
  return MakeUsageRecord(RequestSummary(s), dataplane_id);
}

llmproxy::v1::UsageRecord MakeUsageRecord(RequestSummary&& s,
                                          std::string_view dataplane_id) {
  llmproxy::v1::UsageRecord r;
  r.set_request_id(std::move(s.request_id));
  r.set_virtual_key_id(std::move(s.virtual_key_id));
  r.set_model(std::move(s.model));
  r.set_remote_model(std::move(s.remote_model));
  r.set_connection_id(std::move(s.connection_id));
  r.set_assignment_id(std::move(s.assignment_id));
  r.set_dataplane_id(std::string(dataplane_id));
  r.set_prompt_tokens(s.prompt_tokens);
  r.set_completion_tokens(s.completion_tokens);
  r.set_cached_tokens(s.cached_tokens);
  r.set_cost_usd(s.cost_usd);
  r.set_http_status(s.http_status);
  r.set_status(std::string(UsageStatus(s)));
  r.set_latency_ms(s.latency_ms);
  r.set_ttft_ms(s.ttft_ms);
  const auto since_epoch = s.start_time.time_since_epoch();
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  r.mutable_start_time()->set_seconds(seconds.count());
  r.mutable_start_time()->set_nanos(
      static_cast<int32_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                               since_epoch - seconds)
                               .count()));
  r.set_streamed(s.streamed);
  r.set_endpoint(std::move(s.endpoint));
  return r;
}

}  // namespace llmproxy::dataplane
