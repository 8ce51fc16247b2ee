#include "dataplane/usage_record.h"

#include <string>

#include "dataplane/usage/proto_writer.h"
#include "llmproxy/v1/usage_service.pb.h"

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

std::string SerializeUsageRecord(const RequestSummary& s,
                                 std::string_view dataplane_id) {
  using Record = llmproxy::v1::UsageRecord;
  std::string out;
  ProtoWriter w(out, 192 + s.request_id.size() + s.model.size() +
                         s.remote_model.size() + s.endpoint.size());
  w.String(Record::kRequestIdFieldNumber, s.request_id);
  w.String(Record::kVirtualKeyIdFieldNumber, s.virtual_key_id);
  w.String(Record::kModelFieldNumber, s.model);
  w.String(Record::kRemoteModelFieldNumber, s.remote_model);
  w.String(Record::kConnectionIdFieldNumber, s.connection_id);
  w.String(Record::kAssignmentIdFieldNumber, s.assignment_id);
  w.String(Record::kDataplaneIdFieldNumber, dataplane_id);
  w.Int64(Record::kPromptTokensFieldNumber, s.prompt_tokens);
  w.Int64(Record::kCompletionTokensFieldNumber, s.completion_tokens);
  w.Int64(Record::kCachedTokensFieldNumber, s.cached_tokens);
  w.Double(Record::kCostUsdFieldNumber, s.cost_usd);
  w.Int64(Record::kHttpStatusFieldNumber, s.http_status);
  w.String(Record::kStatusFieldNumber, UsageStatus(s));
  w.Double(Record::kLatencyMsFieldNumber, s.latency_ms);
  w.Double(Record::kTtftMsFieldNumber, s.ttft_ms);
  // google.protobuf.Timestamp {seconds = 1, nanos = 2}, always present.
  const auto since_epoch = s.start_time.time_since_epoch();
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
      since_epoch - seconds);
  // At most 12 bytes (a varint of seconds before 2106, one of nanos): within
  // the string's inline capacity, no allocation.
  std::string timestamp;
  ProtoWriter t(timestamp, 0);
  t.Int64(1, seconds.count());
  t.Int64(2, nanos.count());
  t.Finish();
  w.Bytes(Record::kStartTimeFieldNumber, timestamp);
  w.Bool(Record::kStreamedFieldNumber, s.streamed);
  w.String(Record::kEndpointFieldNumber, s.endpoint);
  w.Finish();
  return out;
}

}  // namespace llmproxy::dataplane
