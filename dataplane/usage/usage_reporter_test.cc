#include "dataplane/usage/usage_reporter.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "dataplane/usage/report_usage_request.h"
#include "llmproxy/v1/usage_service.grpc.pb.h"

namespace llmproxy::dataplane {
namespace {

namespace v1 = ::llmproxy::v1;
using namespace std::chrono_literals;

// A UsageService that stores request ids like the control plane does:
// idempotently. It can be told to lose the ack of the next batch after
// storing it.
class FakeUsageService final : public v1::UsageService::Service {
 public:
  grpc::Status ReportUsage(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::ReportUsageResponse, v1::ReportUsageRequest>*
          stream) override {
    v1::ReportUsageRequest request;
    while (stream->Read(&request)) {
      {
        // A control plane that hangs: the batch waits for Release().
        std::unique_lock lock(mu_);
        released_.wait(lock, [this] { return !hang_; });
      }
      v1::ReportUsageResponse response;
      response.set_batch_id(request.batch_id());
      bool lose_ack;
      {
        std::lock_guard lock(mu_);
        for (const auto& r : request.records()) {
          ++received_;
          if (ids_.insert(r.request_id()).second) {
            response.set_accepted(response.accepted() + 1);
          } else {
            response.set_duplicates(response.duplicates() + 1);
          }
        }
        lose_ack = lose_next_ack_;
        lose_next_ack_ = false;
      }
      if (lose_ack) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "lost");
      stream->Write(response);
    }
    return grpc::Status::OK;
  }

  std::size_t unique() {
    std::lock_guard lock(mu_);
    return ids_.size();
  }
  int received() {
    std::lock_guard lock(mu_);
    return received_;
  }
  void LoseNextAck() {
    std::lock_guard lock(mu_);
    lose_next_ack_ = true;
  }
  // Batches received from now on wait unanswered until Release().
  void Hang() {
    std::lock_guard lock(mu_);
    hang_ = true;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      hang_ = false;
    }
    released_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable released_;
  bool hang_ = false;
  std::set<std::string> ids_;
  int received_ = 0;
  bool lose_next_ack_ = false;
};

class FakeControlPlane {
 public:
  // Starts on `port` (0: any free port).
  explicit FakeControlPlane(FakeUsageService& service, int port = 0) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service);
    server_ = builder.BuildAndStart();
  }
  ~FakeControlPlane() { server_->Shutdown(std::chrono::system_clock::now()); }
  int port() const { return port_; }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

int FreePort() {
  FakeUsageService unused;
  return FakeControlPlane(unused).port();
}

v1::UsageRecord Record(int i) {
  v1::UsageRecord r;
  r.set_request_id("req-" + std::to_string(i));
  r.set_prompt_tokens(i);
  return r;
}

// Record(i) as the request path hands it over: serialized.
std::string Serialized(int i) { return Record(i).SerializeAsString(); }

bool WaitFor(const std::function<bool()>& done, std::chrono::seconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

class UsageReporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("usage-reporter-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  UsageReporterOptions Options(int port) {
    UsageReporterOptions options;
    options.controlplane_addresses = {"127.0.0.1:" + std::to_string(port)};
    options.dataplane_id = "dp-test";
    options.spool_path = (dir_ / "spool.bin").string();
    options.flush_interval = 10ms;
    options.max_backoff = 100ms;
    options.max_batch_records = 50;
    return options;
  }

  std::filesystem::path dir_;
};

TEST_F(UsageReporterTest, DeliversEveryRecordOnce) {
  FakeUsageService service;
  FakeControlPlane cp(service);
  auto reporter = *UsageReporter::Start(Options(cp.port()), nullptr);
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(reporter->Enqueue(Serialized(i)));
  ASSERT_TRUE(WaitFor([&] { return reporter->acked_records() == 300; }, 10s));
  EXPECT_EQ(service.unique(), 300u);
  EXPECT_EQ(service.received(), 300);
  EXPECT_TRUE(WaitFor([&] { return reporter->spool_bytes() == 0; }, 5s));
}

TEST_F(UsageReporterTest, SpoolsWhileTheControlPlaneIsDownAndReplaysAfter) {
  const int port = FreePort();
  prometheus::Registry registry;
  auto reporter = *UsageReporter::Start(Options(port), &registry);
  for (int i = 0; i < 200; ++i) reporter->Enqueue(Serialized(i));
  ASSERT_TRUE(WaitFor([&] { return reporter->spool_bytes() > 0; }, 5s));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(reporter->acked_records(), 0);

  FakeUsageService service;
  FakeControlPlane cp(service, port);
  for (int i = 200; i < 400; ++i) reporter->Enqueue(Serialized(i));
  ASSERT_TRUE(WaitFor([&] { return reporter->acked_records() == 400; }, 15s));
  EXPECT_EQ(service.unique(), 400u);
}

// A control plane that takes the call and never answers holds the send for
// up to rpc_timeout. The request path keeps producing records meanwhile, many
// times the queue's size: they go to the spool, none is dropped, and all are
// delivered once the control plane answers.
TEST_F(UsageReporterTest, AHangingControlPlaneLosesNoRecords) {
  FakeUsageService service;
  FakeControlPlane cp(service);
  UsageReporterOptions options = Options(cp.port());
  options.queue_capacity = 100;
  options.rpc_timeout = 30s;
  prometheus::Registry registry;
  auto reporter = *UsageReporter::Start(options, &registry);
  service.Hang();
  ASSERT_TRUE(reporter->Enqueue(Serialized(0)));
  ASSERT_TRUE(WaitFor(
      [&] { return service.received() == 0 && reporter->spool_bytes() > 0; },
      5s));
  std::this_thread::sleep_for(100ms);  // the batch is in the hanging call
  for (int i = 1; i <= 2000; ++i) {
    ASSERT_TRUE(reporter->Enqueue(Serialized(i))) << "record " << i;
    if (i % 50 == 0) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(reporter->acked_records(), 0);
  service.Release();
  ASSERT_TRUE(WaitFor([&] { return reporter->acked_records() == 2001; }, 20s))
      << reporter->acked_records();
  EXPECT_EQ(service.unique(), 2001u);
}

TEST_F(UsageReporterTest, RecordsSurviveARestartOfTheDataPlane) {
  const int port = FreePort();
  {
    auto reporter = *UsageReporter::Start(Options(port), nullptr);
    for (int i = 0; i < 120; ++i) reporter->Enqueue(Serialized(i));
    reporter->Shutdown(0ms);  // control plane down: all stays on disk
  }
  FakeUsageService service;
  FakeControlPlane cp(service, port);
  auto reporter = *UsageReporter::Start(Options(port), nullptr);
  ASSERT_TRUE(WaitFor([&] { return service.unique() == 120u; }, 15s));
}

TEST_F(UsageReporterTest, ALostAckIsResentAndStoredOnce) {
  FakeUsageService service;
  FakeControlPlane cp(service);
  service.LoseNextAck();
  auto reporter = *UsageReporter::Start(Options(cp.port()), nullptr);
  for (int i = 0; i < 40; ++i) reporter->Enqueue(Serialized(i));
  ASSERT_TRUE(WaitFor([&] { return reporter->acked_records() == 40; }, 15s));
  EXPECT_EQ(service.unique(), 40u);
  EXPECT_GT(service.received(), 40);  // the unacked batch came twice
}

TEST_F(UsageReporterTest, AFullSpoolDropsAndCountsRecords) {
  const int port = FreePort();
  UsageReporterOptions options = Options(port);
  options.spool_max_bytes = 64;  // room for a few records only
  prometheus::Registry registry;
  auto reporter = *UsageReporter::Start(options, &registry);
  for (int i = 0; i < 50; ++i) reporter->Enqueue(Serialized(i));
  reporter->Shutdown(0ms);
  double dropped = 0;
  for (const auto& family : registry.Collect()) {
    if (family.name != "llmproxy_usage_records_dropped_total") continue;
    for (const auto& metric : family.metric) dropped += metric.counter.value;
  }
  EXPECT_GT(dropped, 0);
}

// A spool path in the temp directory, with no spool there before or after.
struct TempSpool {
  explicit TempSpool(const std::string& name)
      : path(std::filesystem::temp_directory_path() /
             (name + "-" + std::to_string(::getpid()))) {
    Remove();
  }
  ~TempSpool() { Remove(); }
  void Remove() const {
    std::filesystem::remove(path);
    std::filesystem::remove(path.string() + ".ack");
  }
  std::filesystem::path path;
};

TEST(UsageSpool, CutsOffATornRecordAndKeepsTheWholeOnes) {
  TempSpool temp("torn-spool");
  const std::filesystem::path& path = temp.path;
  {
    auto spool = *UsageSpool::Open(path.string(), 1 << 20);
    ASSERT_TRUE(spool->Append({Serialized(1), Serialized(2)}).ok());
  }
  {
    std::FILE* f = std::fopen(path.c_str(), "ab");
    std::fwrite("\x20\x00\x00\x00partial", 1, 11, f);  // a crash mid-write
    std::fclose(f);
  }
  auto spool = *UsageSpool::Open(path.string(), 1 << 20);
  auto batch = *spool->ReadUnacked(10);
  ASSERT_EQ(batch.records.size(), 2u);
  v1::UsageRecord second;
  ASSERT_TRUE(second.ParseFromString(batch.records[1]));
  EXPECT_EQ(second.request_id(), "req-2");
  ASSERT_TRUE(spool->Ack(batch.end_offset).ok());
  EXPECT_FALSE(spool->has_unacked());
}

TEST(UsageSpool, ReadsBatchesAcrossItsReadChunksAndRecordsBiggerThanOne) {
  TempSpool temp("chunked-spool");
  auto spool = *UsageSpool::Open(temp.path.string(), 64 << 20);
  // ~1.2 MB of small records with one of ~300 KB in the middle: reads of
  // 256 KiB end inside records, and one record is bigger than a read.
  std::vector<std::string> records;
  for (int i = 0; i < 12000; ++i) {
    v1::UsageRecord r = Record(i);
    r.set_model(std::string(i == 6000 ? 300 * 1024 : 80, 'm'));
    records.push_back(r.SerializeAsString());
  }
  ASSERT_TRUE(spool->Append(records).ok());
  int next = 0;
  while (spool->has_unacked()) {
    auto batch = spool->ReadUnacked(1000);
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_FALSE(batch->records.empty());
    ASSERT_LE(batch->records.size(), 1000u);
    for (const std::string& bytes : batch->records) {
      v1::UsageRecord r;
      ASSERT_TRUE(r.ParseFromString(bytes));
      ASSERT_EQ(r.request_id(), "req-" + std::to_string(next)) << "in order";
      EXPECT_EQ(r.model().size(), next == 6000 ? 300u * 1024 : 80u);
      ++next;
    }
    ASSERT_TRUE(spool->Ack(batch->end_offset).ok());
  }
  EXPECT_EQ(next, 12000);
}

TEST(ReportUsageRequest, EncodesWhatTheGeneratedCodeParses) {
  std::vector<std::string> records;
  for (int i = 0; i < 3; ++i) records.push_back(Record(i).SerializeAsString());
  records.push_back("");  // an all-defaults record is zero bytes long
  std::string wire = EncodeReportUsageRequest(1ull << 40, "dp-7", records);
  v1::ReportUsageRequest request;
  ASSERT_TRUE(request.ParseFromString(wire));
  EXPECT_EQ(request.batch_id(), 1ull << 40);
  EXPECT_EQ(request.dataplane_id(), "dp-7");
  ASSERT_EQ(request.records_size(), 4);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(request.records(i).request_id(), "req-" + std::to_string(i));
    EXPECT_EQ(request.records(i).prompt_tokens(), i);
  }
  EXPECT_EQ(request.records(3).request_id(), "");
  // And the generated serializer writes the same bytes.
  EXPECT_EQ(request.SerializeAsString(), wire);
}

}  // namespace
}  // namespace llmproxy::dataplane
