#include "dataplane/metrics/dataplane_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace llmproxy::dataplane {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Labels;

// Seconds: LLM calls range from milliseconds (cached embeddings) to minutes.
const Histogram::BucketBoundaries& DurationBuckets() {
  static const Histogram::BucketBoundaries b{
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
  return b;
}
// The OpenTelemetry GenAI advice for token counts.
const Histogram::BucketBoundaries& TokenBuckets() {
  static const Histogram::BucketBoundaries b{
      1,     4,     16,     64,      256,     1024,     4096,
      16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
  return b;
}

std::atomic<uint64_t> next_instance_id{1};

// Per-thread cache of labelled children, keyed by (metrics instance, family)
// and label values. Instance ids are never reused, so a cache entry can never
// point into a destroyed registry that a new one replaced at the same address.
template <typename T>
class ChildCache {
 public:
  explicit ChildCache(uint64_t instance_id) : instance_id_(instance_id) {}

  template <typename... Args>
  T& Get(Family<T>& family, const std::string& key, const Labels& labels,
         Args&&... args) {
    thread_local std::map<std::pair<uint64_t, const void*>,
                          std::unordered_map<std::string, T*>>
        cache;
    auto& per_family = cache[{instance_id_, &family}];
    auto it = per_family.find(key);
    if (it != per_family.end()) return *it->second;
    T& child = family.Add(labels, std::forward<Args>(args)...);
    per_family.emplace(key, &child);
    return child;
  }

 private:
  const uint64_t instance_id_;
};

std::string Key(std::initializer_list<std::string_view> parts) {
  std::string key;
  for (auto p : parts) {
    key.append(p);
    key.push_back('\x1f');
  }
  return key;
}

std::string OrUnknown(std::string_view s) {
  return s.empty() ? std::string("unknown") : std::string(s);
}

}  // namespace

struct DataplaneMetrics::Families {
  explicit Families(prometheus::Registry& r)
      : requests(prometheus::BuildCounter()
                     .Name("llmproxy_requests_total")
                     .Help("Client requests by virtual key, model and HTTP "
                           "status.")
                     .Register(r)),
        duration(prometheus::BuildHistogram()
                     .Name("gen_ai_server_request_duration_seconds")
                     .Help("Time from request received to response end.")
                     .Register(r)),
        ttft(prometheus::BuildHistogram()
                 .Name("gen_ai_server_time_to_first_token_seconds")
                 .Help("Time from request received to the first response "
                       "byte (first token for streams).")
                 .Register(r)),
        token_usage(prometheus::BuildHistogram()
                        .Name("gen_ai_client_token_usage")
                        .Help("Tokens per request, by token_type "
                              "input/output.")
                        .Register(r)),
        tokens(prometheus::BuildCounter()
                   .Name("llmproxy_tokens_total")
                   .Help("Tokens by virtual key, model and token_type.")
                   .Register(r)),
        spend(prometheus::BuildCounter()
                  .Name("llmproxy_spend_usd_total")
                  .Help("Cost in USD by virtual key and model.")
                  .Register(r)),
        limit_rejections(prometheus::BuildCounter()
                             .Name("llmproxy_limit_rejections_total")
                             .Help("Requests refused by a limit, by kind.")
                             .Register(r)),
        upstream_errors(prometheus::BuildCounter()
                            .Name("llmproxy_upstream_errors_total")
                            .Help("Failed upstream calls by provider and "
                                  "reason.")
                            .Register(r)),
        upstream_retries(prometheus::BuildCounter()
                             .Name("llmproxy_upstream_retries_total")
                             .Help("Upstream calls retried on another "
                                   "deployment.")
                             .Register(r)),
        active_requests(prometheus::BuildGauge()
                            .Name("llmproxy_active_requests")
                            .Help("Requests in flight.")
                            .Register(r)
                            .Add({})),
        active_streams(prometheus::BuildGauge()
                           .Name("llmproxy_active_streams")
                           .Help("SSE streams in flight.")
                           .Register(r)
                           .Add({})),
        config_revision(prometheus::BuildGauge()
                            .Name("llmproxy_config_revision")
                            .Help("Config revision applied.")
                            .Register(r)
                            .Add({})),
        config_pushes(prometheus::BuildCounter()
                          .Name("llmproxy_config_pushes_total")
                          .Help("Config pushes received, by result "
                                "ack/nack.")
                          .Register(r)),
        pushes_acked(config_pushes.Add({{"result", "ack"}})),
        pushes_nacked(config_pushes.Add({{"result", "nack"}})),
        instance_id(next_instance_id.fetch_add(1)),
        counters(instance_id),
        histograms(instance_id) {}

  Family<Counter>& requests;
  Family<Histogram>& duration;
  Family<Histogram>& ttft;
  Family<Histogram>& token_usage;
  Family<Counter>& tokens;
  Family<Counter>& spend;
  Family<Counter>& limit_rejections;
  Family<Counter>& upstream_errors;
  Family<Counter>& upstream_retries;
  Gauge& active_requests;
  Gauge& active_streams;
  Gauge& config_revision;
  Family<Counter>& config_pushes;
  Counter& pushes_acked;
  Counter& pushes_nacked;

  const uint64_t instance_id;
  ChildCache<Counter> counters;
  ChildCache<Histogram> histograms;
};

DataplaneMetrics::DataplaneMetrics(prometheus::Registry& registry)
    : families_(new Families(registry)) {}

DataplaneMetrics::~DataplaneMetrics() { delete families_; }

void DataplaneMetrics::RecordRequest(const RequestOutcome& o) {
  Families& f = *families_;
  const std::string key_name = OrUnknown(o.virtual_key);
  const std::string model = OrUnknown(o.model);
  const std::string provider = OrUnknown(o.provider);
  const std::string status = std::to_string(o.http_status);

  f.counters
      .Get(f.requests, Key({key_name, model, status}),
           {{"virtual_key", key_name}, {"model", model}, {"status", status}})
      .Increment();
  const Labels model_labels{{"model", model}, {"provider", provider}};
  const std::string model_key = Key({model, provider});
  f.histograms.Get(f.duration, model_key, model_labels, DurationBuckets())
      .Observe(o.duration_seconds);
  if (o.time_to_first_token_seconds >= 0) {
    f.histograms.Get(f.ttft, model_key, model_labels, DurationBuckets())
        .Observe(o.time_to_first_token_seconds);
  }
  if (o.input_tokens > 0 || o.output_tokens > 0) {
    for (auto [type, n] :
         {std::pair<const char*, int64_t>{"input", o.input_tokens},
          {"output", o.output_tokens}}) {
      f.histograms
          .Get(f.token_usage, Key({model, provider, type}),
               {{"model", model}, {"provider", provider}, {"token_type", type}},
               TokenBuckets())
          .Observe(static_cast<double>(n));
      f.counters
          .Get(f.tokens, Key({key_name, model, type}),
               {{"virtual_key", key_name},
                {"model", model},
                {"token_type", type}})
          .Increment(static_cast<double>(n));
    }
  }
  if (o.cost_usd > 0) {
    f.counters
        .Get(f.spend, Key({key_name, model}),
             {{"virtual_key", key_name}, {"model", model}})
        .Increment(o.cost_usd);
  }
}

void DataplaneMetrics::RecordLimitRejection(std::string_view kind) {
  families_->counters
      .Get(families_->limit_rejections, std::string(kind),
           {{"kind", std::string(kind)}})
      .Increment();
}

void DataplaneMetrics::RecordUpstreamError(std::string_view provider,
                                           std::string_view reason) {
  families_->counters
      .Get(families_->upstream_errors, Key({provider, reason}),
           {{"provider", OrUnknown(provider)}, {"reason", std::string(reason)}})
      .Increment();
}

void DataplaneMetrics::RecordUpstreamRetry(std::string_view provider) {
  families_->counters
      .Get(families_->upstream_retries, std::string(provider),
           {{"provider", OrUnknown(provider)}})
      .Increment();
}

void DataplaneMetrics::AddActiveRequests(double delta) {
  families_->active_requests.Increment(delta);
}
void DataplaneMetrics::AddActiveStreams(double delta) {
  families_->active_streams.Increment(delta);
}
void DataplaneMetrics::SetConfigRevision(int64_t revision) {
  families_->config_revision.Set(static_cast<double>(revision));
}
void DataplaneMetrics::RecordConfigPush(bool accepted) {
  (accepted ? families_->pushes_acked : families_->pushes_nacked).Increment();
}

}  // namespace llmproxy::dataplane
