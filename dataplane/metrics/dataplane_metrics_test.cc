#include "dataplane/metrics/dataplane_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <string>

namespace llmproxy::dataplane {
namespace {

std::string Exposition(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST(DataplaneMetrics, RequestMovesCountersHistogramsAndTokenUsage) {
  prometheus::Registry registry;
  DataplaneMetrics metrics(registry);
  DataplaneMetrics::RequestOutcome outcome{.virtual_key = "team-a",
                                           .model = "gpt-fast",
                                           .provider = "openai",
                                           .http_status = 200,
                                           .duration_seconds = 0.2,
                                           .time_to_first_token_seconds = 0.05,
                                           .input_tokens = 12,
                                           .output_tokens = 30,
                                           .cost_usd = 0.001};
  metrics.RecordRequest(outcome);
  metrics.RecordRequest(outcome);
  std::string text = Exposition(registry);
  EXPECT_NE(text.find("llmproxy_requests_total{model=\"gpt-fast\",status="
                      "\"200\",virtual_key=\"team-a\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("gen_ai_server_request_duration_seconds_count{model="
                      "\"gpt-fast\",provider=\"openai\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("gen_ai_server_time_to_first_token_seconds_count"),
            std::string::npos);
  EXPECT_NE(text.find("gen_ai_client_token_usage_sum{model=\"gpt-fast\","
                      "provider=\"openai\",token_type=\"input\"} 24"),
            std::string::npos);
  EXPECT_NE(text.find("llmproxy_tokens_total{model=\"gpt-fast\",token_type="
                      "\"output\",virtual_key=\"team-a\"} 60"),
            std::string::npos);
}

TEST(DataplaneMetrics, RefusalsErrorsAndConfigAreCounted) {
  prometheus::Registry registry;
  DataplaneMetrics metrics(registry);
  metrics.RecordLimitRejection("tokens");
  metrics.RecordUpstreamError("openai", "timeout");
  metrics.RecordUpstreamRetry("openai");
  metrics.SetConfigRevision(42);
  metrics.RecordConfigPush(true);
  metrics.RecordConfigPush(false);
  std::string text = Exposition(registry);
  EXPECT_NE(text.find("llmproxy_limit_rejections_total{kind=\"tokens\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("llmproxy_upstream_errors_total{provider=\"openai\","
                      "reason=\"timeout\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("llmproxy_config_revision 42"), std::string::npos);
  EXPECT_NE(text.find("llmproxy_config_pushes_total{result=\"nack\"} 1"),
            std::string::npos);
}

TEST(DataplaneMetrics, ANewInstanceNeverReusesAnotherInstancesSeries) {
  for (int i = 0; i < 3; ++i) {
    prometheus::Registry registry;
    DataplaneMetrics metrics(registry);
    metrics.RecordLimitRejection("requests");
    EXPECT_NE(Exposition(registry).find(
                  "llmproxy_limit_rejections_total{kind=\"requests\"} 1"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace llmproxy::dataplane
