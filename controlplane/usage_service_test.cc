// UsageService over real gRPC: ingestion is idempotent, queries add up.

#include <ctime>
#include <string>

#include "controlplane/test_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace llmproxy::controlplane {
namespace {

using testing::ControlPlaneTest;
using testing::kAdminToken;
using testing::kDataPlaneToken;
using ::testing::StartsWith;

class UsageServiceTest : public ControlPlaneTest {
 protected:
  static v1::UsageRecord Record(const std::string& request_id,
                                const std::string& model, int64_t prompt,
                                int64_t completion, double cost) {
    v1::UsageRecord record;
    record.set_request_id(request_id);
    record.set_virtual_key_id("vk_0123456789ab");
    record.set_model(model);
    record.set_connection_id("cn_0123456789ab");
    record.set_prompt_tokens(prompt);
    record.set_completion_tokens(completion);
    record.set_cost_usd(cost);
    record.set_http_status(200);
    record.set_status("ok");
    record.mutable_start_time()->set_seconds(std::time(nullptr) - 60);
    return record;
  }

  // Sends one batch on a fresh stream and returns its ack.
  v1::ReportUsageResponse Report(const v1::ReportUsageRequest& batch) {
    auto context = Ctx(kDataPlaneToken);
    auto stream = usage_->ReportUsage(context.get());
    EXPECT_TRUE(stream->Write(batch));
    v1::ReportUsageResponse ack;
    EXPECT_TRUE(stream->Read(&ack));
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
    return ack;
  }
};

TEST_F(UsageServiceTest, ARepeatedBatchIsCountedAsDuplicates) {
  v1::ReportUsageRequest batch;
  batch.set_batch_id(7);
  batch.set_dataplane_id("dp-1");
  *batch.add_records() = Record("req-1", "gpt-4o", 10, 5, 0.01);
  *batch.add_records() = Record("req-2", "gpt-4o", 20, 5, 0.02);

  v1::ReportUsageResponse first = Report(batch);
  EXPECT_EQ(first.batch_id(), 7u);
  EXPECT_EQ(first.accepted(), 2);
  EXPECT_EQ(first.duplicates(), 0);

  v1::ReportUsageResponse again = Report(batch);
  EXPECT_EQ(again.accepted(), 0);
  EXPECT_EQ(again.duplicates(), 2);

  std::string metrics = MetricsText();
  EXPECT_THAT(metrics, ::testing::HasSubstr(
                           "llmproxy_controlplane_usage_records_total{result="
                           "\"accepted\"} 2"));
  EXPECT_THAT(metrics, ::testing::HasSubstr(
                           "llmproxy_controlplane_usage_records_total{result="
                           "\"duplicate\"} 2"));
}

TEST_F(UsageServiceTest, OneStreamCarriesManyBatches) {
  auto context = Ctx(kDataPlaneToken);
  auto stream = usage_->ReportUsage(context.get());
  for (uint64_t id = 1; id <= 3; ++id) {
    v1::ReportUsageRequest batch;
    batch.set_batch_id(id);
    *batch.add_records() = Record("req-" + std::to_string(id), "m", 1, 1, 0);
    ASSERT_TRUE(stream->Write(batch));
    v1::ReportUsageResponse ack;
    ASSERT_TRUE(stream->Read(&ack));
    EXPECT_EQ(ack.batch_id(), id);
    EXPECT_EQ(ack.accepted(), 1);
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(UsageServiceTest, ReportUsageNeedsADataPlaneToken) {
  auto context = Ctx("");
  auto stream = usage_->ReportUsage(context.get());
  v1::ReportUsageRequest batch;
  *batch.add_records() = Record("req-1", "m", 1, 1, 0);
  stream->Write(batch);
  v1::ReportUsageResponse ack;
  EXPECT_FALSE(stream->Read(&ack));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(UsageServiceTest, ReportUsageRefusesARecordWithoutRequestId) {
  auto context = Ctx(kDataPlaneToken);
  auto stream = usage_->ReportUsage(context.get());
  v1::ReportUsageRequest batch;
  *batch.add_records() = Record("", "m", 1, 1, 0);
  stream->Write(batch);
  v1::ReportUsageResponse ack;
  EXPECT_FALSE(stream->Read(&ack));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("records[0].request_id"));
}

TEST_F(UsageServiceTest, QueryUsageTotalsTheRange) {
  v1::ReportUsageRequest batch;
  *batch.add_records() = Record("req-1", "gpt-4o", 100, 50, 0.5);
  *batch.add_records() = Record("req-2", "gpt-4o", 10, 5, 0.25);
  *batch.add_records() = Record("req-3", "claude", 1, 2, 1.0);
  batch.mutable_records(2)->set_status("upstream_error");
  Report(batch);

  v1::QueryUsageRequest request;
  v1::QueryUsageResponse response;
  grpc::Status status = usage_->QueryUsage(Ctx().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.rows_size(), 1);
  EXPECT_EQ(response.rows(0).requests(), 3);
  EXPECT_EQ(response.rows(0).errors(), 1);
  EXPECT_EQ(response.rows(0).prompt_tokens(), 111);
  EXPECT_EQ(response.rows(0).completion_tokens(), 57);
  EXPECT_DOUBLE_EQ(response.rows(0).cost_usd(), 1.75);

  request.add_group_by("model");
  response.Clear();
  ASSERT_TRUE(usage_->QueryUsage(Ctx().get(), request, &response).ok());
  EXPECT_EQ(response.rows_size(), 2);
}

TEST_F(UsageServiceTest, QueryUsageNeedsTheAdminToken) {
  v1::QueryUsageResponse response;
  EXPECT_EQ(usage_
                ->QueryUsage(Ctx(kDataPlaneToken).get(),
                             v1::QueryUsageRequest(), &response)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(UsageServiceTest, QueryUsageRejectsEachInvalidField) {
  struct Case {
    std::function<void(v1::QueryUsageRequest&)> mutate;
    std::string message_start;
  };
  const std::vector<Case> cases = {
      {[](auto& r) { r.add_group_by("team"); }, "group_by"},
      {[](auto& r) { r.set_granularity("minute"); }, "granularity"},
      {[](auto& r) { r.set_page_size(1001); }, "page_size"},
      {[](auto& r) { r.set_virtual_key_id("nope"); }, "virtual_key_id"},
      {[](auto& r) {
         r.mutable_start_time()->set_seconds(200);
         r.mutable_end_time()->set_seconds(100);
       },
       "end_time"},
  };
  for (const Case& test_case : cases) {
    SCOPED_TRACE(test_case.message_start);
    v1::QueryUsageRequest request;
    test_case.mutate(request);
    v1::QueryUsageResponse response;
    grpc::Status status = usage_->QueryUsage(Ctx().get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), StartsWith(test_case.message_start));
  }
}

}  // namespace
}  // namespace llmproxy::controlplane
