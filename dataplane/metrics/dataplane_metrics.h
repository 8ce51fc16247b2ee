#pragma once

#include <cstdint>
#include <string_view>

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace llmproxy::dataplane {

// Everything the data plane exports at /metrics. Names follow Prometheus
// conventions (units, _total) and the OpenTelemetry GenAI semantic
// conventions where one exists.
//
// Safe to call from request threads: each thread caches the labelled child
// series it has used, so the per-family mutex of prometheus-cpp is taken only
// the first time a thread sees a label combination. Label values are bounded
// sets (model aliases, providers, virtual key names, status codes); request
// ids never become labels.
class DataplaneMetrics {
 public:
  explicit DataplaneMetrics(prometheus::Registry& registry);
  ~DataplaneMetrics();

  struct RequestOutcome {
    // Name of the virtual key ("master" or "" when none authenticated).
    std::string_view virtual_key;
    // Alias the client asked for ("" when unknown).
    std::string_view model;
    // Provider of the connection used ("" when none was reached).
    std::string_view provider;
    int http_status = 0;
    double duration_seconds = 0;
    // Negative when no body byte/token was sent.
    double time_to_first_token_seconds = -1;
    int64_t input_tokens = 0;
    int64_t output_tokens = 0;
    double cost_usd = 0;
  };
  // Once per finished request (success, refusal or failure).
  void RecordRequest(const RequestOutcome& outcome);

  // kind: "requests", "tokens", "concurrency", "budget".
  void RecordLimitRejection(std::string_view kind);
  // reason: "connect", "timeout", "status_5xx", "protocol", …
  void RecordUpstreamError(std::string_view provider, std::string_view reason);
  void RecordUpstreamRetry(std::string_view provider);

  // +1 when a request/stream starts, -1 when it ends.
  void AddActiveRequests(double delta);
  void AddActiveStreams(double delta);

  void SetConfigRevision(int64_t revision);
  void RecordConfigPush(bool accepted);

 private:
  struct Families;
  Families* families_;  // owned; children live in the registry
};

}  // namespace llmproxy::dataplane
