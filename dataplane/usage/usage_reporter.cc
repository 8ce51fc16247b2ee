#include "dataplane/usage/usage_reporter.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <string>

#include "common/log.h"
#include "dataplane/usage/report_usage_request.h"
#include "llmproxy/v1/usage_service.grpc.pb.h"

namespace llmproxy::dataplane {

namespace v1 = ::llmproxy::v1;
using Clock = std::chrono::steady_clock;

struct UsageReporter::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : sent(prometheus::BuildCounter()
                 .Name("llmproxy_usage_records_sent_total")
                 .Help("Usage records acknowledged by the control plane.")
                 .Register(registry)
                 .Add({})),
        spooled(prometheus::BuildCounter()
                    .Name("llmproxy_usage_records_spooled_total")
                    .Help("Usage records kept on disk because the control "
                          "plane was unreachable.")
                    .Register(registry)
                    .Add({})),
        replayed(prometheus::BuildCounter()
                     .Name("llmproxy_usage_records_replayed_total")
                     .Help("Spooled usage records delivered after an outage.")
                     .Register(registry)
                     .Add({})),
        dropped_family(prometheus::BuildCounter()
                           .Name("llmproxy_usage_records_dropped_total")
                           .Help("Usage records lost: queue or spool full.")
                           .Register(registry)),
        dropped_queue_full(dropped_family.Add({{"reason", "queue_full"}})),
        dropped_spool_full(dropped_family.Add({{"reason", "spool_full"}})),
        spool_bytes(prometheus::BuildGauge()
                        .Name("llmproxy_usage_spool_bytes")
                        .Help("Size of the usage spool file.")
                        .Register(registry)
                        .Add({})) {}

  prometheus::Counter& sent;
  prometheus::Counter& spooled;
  prometheus::Counter& replayed;
  prometheus::Family<prometheus::Counter>& dropped_family;
  prometheus::Counter& dropped_queue_full;
  prometheus::Counter& dropped_spool_full;
  prometheus::Gauge& spool_bytes;
};

absl::StatusOr<std::unique_ptr<UsageReporter>> UsageReporter::Start(
    UsageReporterOptions options, prometheus::Registry* registry) {
  if (options.controlplane_addresses.empty()) {
    return absl::InvalidArgumentError("no control-plane address for usage");
  }
  auto spool = UsageSpool::Open(options.spool_path, options.spool_max_bytes);
  if (!spool.ok()) return spool.status();
  auto reporter = std::unique_ptr<UsageReporter>(
      new UsageReporter(std::move(options), std::move(*spool), registry));
  reporter->thread_ = std::thread([r = reporter.get()] { r->Run(); });
  return reporter;
}

UsageReporter::UsageReporter(UsageReporterOptions options,
                             std::unique_ptr<UsageSpool> spool,
                             prometheus::Registry* registry)
    : options_(std::move(options)),
      spool_(std::move(spool)),
      queue_(options_.queue_capacity) {
  // Counters exist even without a caller's registry, so code paths stay one.
  static prometheus::Registry private_registry;
  metrics_ = std::make_unique<Metrics>(registry ? *registry : private_registry);
  spool_bytes_ = spool_->size_bytes();
  if (spool_->has_unacked()) {
    // Left by an earlier run: it will be replayed.
    outage_backlog_end_ = spool_->size_bytes();
    log::Info("usage spool has records from an earlier run",
              {{"bytes", std::to_string(spool_->size_bytes())}});
  }
}

UsageReporter::~UsageReporter() { Shutdown(std::chrono::milliseconds(0)); }

bool UsageReporter::Enqueue(std::string record) {
  if (queue_.TryPush(std::move(record))) return true;
  metrics_->dropped_queue_full.Increment();
  return false;
}

void UsageReporter::Shutdown(std::chrono::milliseconds deadline) {
  if (!thread_.joinable()) return;
  shutdown_deadline_ = deadline;
  stopping_.store(true);
  thread_.join();
}

void UsageReporter::Run() {
  // Each drain serialises and fsyncs ~100 ms of records at once: milliseconds
  // of CPU at high request rates. At normal priority that burst preempts the
  // io threads and shows up as the proxy's tail latency; the reporter only
  // needs to keep up on average, so it yields to them. (On Linux a thread's
  // nice value is its own.)
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
  std::mt19937 rng(std::random_device{}());
  auto backoff = std::chrono::milliseconds(100);
  Clock::time_point next_attempt = Clock::now();
  while (!stopping_.load()) {
    DrainQueueToSpool();
    if (spool_->has_unacked() && Clock::now() >= next_attempt) {
      if (SendSpool(Clock::now() + std::chrono::seconds(1))) {
        backoff = std::chrono::milliseconds(100);
      } else {
        // Full jitter keeps a fleet from reconnecting in lockstep.
        std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2,
                                                      backoff.count());
        next_attempt = Clock::now() + std::chrono::milliseconds(jitter(rng));
        backoff = std::min(backoff * 2, options_.max_backoff);
        address_index_ =
            (address_index_ + 1) % options_.controlplane_addresses.size();
      }
    }
    std::this_thread::sleep_for(options_.flush_interval);
  }
  // Last chance: everything queued goes to disk, then as much as the deadline
  // allows to the control plane.
  DrainQueueToSpool();
  if (shutdown_deadline_.count() > 0 && spool_->has_unacked()) {
    SendSpool(Clock::now() + shutdown_deadline_);
  }
}

void UsageReporter::DrainQueueToSpool() {
  std::vector<std::string> records;
  while (auto record = queue_.TryPop()) records.push_back(std::move(*record));
  if (records.empty()) return;
  absl::Status status = spool_->Append(records);
  if (!status.ok()) {
    metrics_->dropped_spool_full.Increment(static_cast<double>(records.size()));
    log::Error("usage records dropped",
               {{"reason", std::string(status.message())},
                {"records", std::to_string(records.size())}});
    return;
  }
  if (control_plane_down_) {
    metrics_->spooled.Increment(static_cast<double>(records.size()));
    outage_backlog_end_ = spool_->size_bytes();
  }
  spool_bytes_ = spool_->size_bytes();
  metrics_->spool_bytes.Set(static_cast<double>(spool_bytes_));
}

bool UsageReporter::SendSpool(Clock::time_point until) {
  while (spool_->has_unacked() && Clock::now() < until) {
    auto batch = spool_->ReadUnacked(options_.max_batch_records);
    if (!batch.ok()) {
      log::Error("cannot read usage spool",
                 {{"error", std::string(batch.status().message())}});
      return false;
    }
    const bool replay = spool_->acked_offset() < outage_backlog_end_;
    if (!SendBatch(batch->records)) {
      if (!control_plane_down_) {
        log::Warn("control plane unreachable for usage; spooling to disk",
                  {{"spool", options_.spool_path}});
        control_plane_down_ = true;
        metrics_->spooled.Increment(static_cast<double>(batch->records.size()));
      }
      return false;
    }
    if (control_plane_down_) {
      log::Info("control plane reachable again; replaying usage spool");
      control_plane_down_ = false;
    }
    if (absl::Status s = spool_->Ack(batch->end_offset); !s.ok()) {
      log::Error("cannot record usage ack",
                 {{"error", std::string(s.message())}});
    }
    const double n = static_cast<double>(batch->records.size());
    metrics_->sent.Increment(n);
    if (replay) metrics_->replayed.Increment(n);
    acked_records_ += static_cast<int64_t>(batch->records.size());
    if (spool_->size_bytes() == 0) outage_backlog_end_ = 0;
    spool_bytes_ = spool_->size_bytes();
    metrics_->spool_bytes.Set(static_cast<double>(spool_bytes_));
  }
  return true;
}

bool UsageReporter::SendBatch(const std::vector<std::string>& records) {
  const std::string& address = options_.controlplane_addresses[address_index_];
  if (channels_.empty())
    channels_.resize(options_.controlplane_addresses.size());
  auto& channel = channels_[address_index_];
  if (!channel) {
    channel = grpc::CreateChannel(
        address, options_.credentials ? options_.credentials
                                      : grpc::InsecureChannelCredentials());
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
  if (!options_.token.empty()) {
    context.AddMetadata("authorization", "Bearer " + options_.token);
  }
  const uint64_t batch_id = next_batch_id_++;
  // The spool's bytes go out as they are: the generic stub takes the
  // request's wire form, so records are neither parsed nor serialized again.
  grpc::Slice payload(
      EncodeReportUsageRequest(batch_id, options_.dataplane_id, records));
  grpc::ByteBuffer request(&payload, 1);
  grpc::ByteBuffer reply;
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(
      &context,
      "/" + std::string(v1::UsageService::service_full_name()) + "/ReportUsage",
      &cq);
  // One operation at a time, so the next event is the one just started.
  // Waiting for it, the queue keeps being drained to the spool: against a
  // control plane that hangs, a call waits up to rpc_timeout, and the request
  // path, filling the queue with thousands of records a second, would
  // otherwise find it full and lose records.
  void* const tag = &cq;
  auto step = [&](auto&& start) {
    start();
    void* got = nullptr;
    bool ok = false;
    while (true) {
      switch (cq.AsyncNext(
          &got, &ok,
          std::chrono::system_clock::now() + options_.flush_interval)) {
        case grpc::CompletionQueue::GOT_EVENT:
          return ok;
        case grpc::CompletionQueue::SHUTDOWN:
          return false;
        case grpc::CompletionQueue::TIMEOUT:
          DrainQueueToSpool();
          break;
      }
    }
  };
  bool acked = step([&] { call->StartCall(tag); }) &&
               step([&] { call->Write(request, tag); }) &&
               step([&] { call->WritesDone(tag); }) &&
               step([&] { call->Read(&reply, tag); });
  grpc::Status status;
  step([&] { call->Finish(&status, tag); });
  call.reset();
  cq.Shutdown();
  void* got = nullptr;
  bool ok = false;
  while (cq.Next(&got, &ok)) {
  }
  if (acked) {
    std::vector<grpc::Slice> slices;
    std::string bytes;
    v1::ReportUsageResponse response;
    acked = reply.Dump(&slices).ok();
    for (const grpc::Slice& slice : slices) {
      bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    acked = acked && response.ParseFromString(bytes) &&
            response.batch_id() == batch_id;
  }
  if (!status.ok() && !control_plane_down_) {
    log::Warn("usage batch not delivered",
              {{"address", address},
               {"code", std::to_string(status.error_code())},
               {"error", status.error_message()}});
  }
  return acked && status.ok();
}

}  // namespace llmproxy::dataplane
