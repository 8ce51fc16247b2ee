#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/bounded_queue.h"
#include "dataplane/usage/usage_spool.h"
#include "llmproxy/v1/usage_service.pb.h"

namespace grpc {
class Channel;
class ChannelCredentials;
}  // namespace grpc

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
}  // namespace prometheus

namespace llmproxy::dataplane {

struct UsageReporterOptions {
  // Control-plane gRPC addresses, tried in turn after a failure.
  std::vector<std::string> controlplane_addresses;
  // The channels' credentials (MakeChannelCredentials); insecure when null.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Sent as "authorization: Bearer <token>" when not empty.
  std::string token;
  std::string dataplane_id;
  std::string spool_path = "data/usage-spool.bin";
  int64_t spool_max_bytes = 256ll << 20;
  std::size_t queue_capacity = 1 << 16;
  int max_batch_records = 500;
  // How often the queue is drained to the spool and the spool sent.
  std::chrono::milliseconds flush_interval{100};
  std::chrono::milliseconds rpc_timeout{10'000};
  std::chrono::milliseconds max_backoff{5'000};
};

// Moves usage records from the request path to the control plane's
// UsageService without losing or duplicating any:
//   request thread --Enqueue (lock-free)--> queue --(reporter thread)--> spool
//   file on disk --batches--> ReportUsage --ack--> dropped from the spool.
// Every record is written to the spool before it is sent, so records survive
// an unreachable control plane and a data-plane restart; a batch is removed
// only once acked, and a batch resent after a lost ack is deduplicated by the
// control plane (request_id is the key).
class UsageReporter {
 public:
  // Opens the spool (replaying what an earlier run left) and starts the
  // reporter thread. `registry` may be null.
  static absl::StatusOr<std::unique_ptr<UsageReporter>> Start(
      UsageReporterOptions options, prometheus::Registry* registry);
  ~UsageReporter();

  // Takes a serialized llmproxy.v1.UsageRecord (SerializeUsageRecord). From
  // any thread; never blocks. Returns false (and counts the record as
  // dropped) only when the queue is full.
  bool Enqueue(std::string record);

  // Stops the thread after one last attempt, bounded by `deadline`, to
  // deliver what is queued; anything not acked stays in the spool for the
  // next start.
  void Shutdown(std::chrono::milliseconds deadline);

  // For tests and /readyz-style checks.
  int64_t acked_records() const { return acked_records_.load(); }
  int64_t spool_bytes() const { return spool_bytes_.load(); }

 private:
  struct Metrics;
  UsageReporter(UsageReporterOptions options, std::unique_ptr<UsageSpool> spool,
                prometheus::Registry* registry);
  void Run();
  void DrainQueueToSpool();
  // Sends spooled batches until the spool is empty, a send fails or
  // `until` passes. Returns false on a failed send.
  bool SendSpool(std::chrono::steady_clock::time_point until);
  // Sends serialized records (as the spool holds them) in one
  // ReportUsageRequest; true once the control plane acked it.
  bool SendBatch(const std::vector<std::string>& records);

  const UsageReporterOptions options_;
  std::unique_ptr<UsageSpool> spool_;
  BoundedQueue<std::string> queue_;
  std::unique_ptr<Metrics> metrics_;

  std::atomic<bool> stopping_{false};
  std::chrono::milliseconds shutdown_deadline_{0};
  std::thread thread_;

  // Reporter-thread state.
  std::vector<std::shared_ptr<grpc::Channel>> channels_;  // per address
  std::size_t address_index_ = 0;
  uint64_t next_batch_id_ = 1;
  bool control_plane_down_ = false;
  // Spool offset below which records were written during an outage.
  int64_t outage_backlog_end_ = 0;

  std::atomic<int64_t> acked_records_{0};
  std::atomic<int64_t> spool_bytes_{0};
};

}  // namespace llmproxy::dataplane
