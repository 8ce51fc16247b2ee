#include "dataplane/metrics/dataplane_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <charconv>
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

namespace {

// The children one (virtual key, model, provider, status) combination
// records into, each resolved on first use.
struct RequestSeries {
  Counter* requests = nullptr;
  Histogram* duration = nullptr;
  Histogram* ttft = nullptr;
  Histogram* token_usage[2] = {nullptr, nullptr};  // input, output
  Counter* tokens[2] = {nullptr, nullptr};
  Counter* spend = nullptr;
};

}  // namespace

void DataplaneMetrics::RecordRequest(const RequestOutcome& o) {
  Families& f = *families_;
  // One probe of a per-thread cache per request, with a key built in a
  // reused buffer: no allocation once a combination has been seen. Label
  // sets are built only on a miss.
  thread_local std::unordered_map<std::string, RequestSeries> cache;
  thread_local std::string key;
  auto or_unknown = [](std::string_view s) {
    return s.empty() ? std::string_view("unknown") : s;
  };
  const std::string_view key_name = or_unknown(o.virtual_key);
  const std::string_view model = or_unknown(o.model);
  const std::string_view provider = or_unknown(o.provider);
  char status_digits[16];
  const std::string_view status(
      status_digits,
      std::to_chars(status_digits, status_digits + sizeof status_digits,
                    o.http_status)
              .ptr -
          status_digits);
  key.clear();
  key.append(reinterpret_cast<const char*>(&f.instance_id),
             sizeof f.instance_id);
  for (std::string_view part : {key_name, model, provider, status}) {
    key.append(part);
    key.push_back('\x1f');
  }
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, RequestSeries{}).first;
  RequestSeries& series = it->second;
  auto labels =
      [&](std::initializer_list<std::pair<const char*, std::string_view>>
              pairs) {
        Labels l;
        for (const auto& [name, value] : pairs)
          l.emplace(name, std::string(value));
        return l;
      };
  if (series.requests == nullptr) {
    series.requests = &f.requests.Add(labels(
        {{"virtual_key", key_name}, {"model", model}, {"status", status}}));
  }
  series.requests->Increment();
  if (series.duration == nullptr) {
    series.duration = &f.duration.Add(
        labels({{"model", model}, {"provider", provider}}), DurationBuckets());
  }
  series.duration->Observe(o.duration_seconds);
  if (o.time_to_first_token_seconds >= 0) {
    if (series.ttft == nullptr) {
      series.ttft =
          &f.ttft.Add(labels({{"model", model}, {"provider", provider}}),
                      DurationBuckets());
    }
    series.ttft->Observe(o.time_to_first_token_seconds);
  }
  if (o.input_tokens > 0 || o.output_tokens > 0) {
    static constexpr const char* kTypes[2] = {"input", "output"};
    const int64_t counts[2] = {o.input_tokens, o.output_tokens};
    for (int i = 0; i < 2; ++i) {
      if (series.token_usage[i] == nullptr) {
        series.token_usage[i] =
            &f.token_usage.Add(labels({{"model", model},
                                       {"provider", provider},
                                       {"token_type", kTypes[i]}}),
                               TokenBuckets());
        series.tokens[i] = &f.tokens.Add(labels({{"virtual_key", key_name},
                                                 {"model", model},
                                                 {"token_type", kTypes[i]}}));
      }
      series.token_usage[i]->Observe(static_cast<double>(counts[i]));
      series.tokens[i]->Increment(static_cast<double>(counts[i]));
    }
  }
  if (o.cost_usd > 0) {
    if (series.spend == nullptr) {
      series.spend =
          &f.spend.Add(labels({{"virtual_key", key_name}, {"model", model}}));
    }
    series.spend->Increment(o.cost_usd);
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
