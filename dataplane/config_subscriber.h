#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/grpc_tls.h"
#include "dataplane/limits/clock.h"
#include "dataplane/limits/limit_registry.h"
#include "dataplane/snapshot_file.h"
#include "dataplane/snapshot_holder.h"
#include "llmproxy/v1/config_service.pb.h"

namespace grpc {
class ChannelCredentials;
class ClientContext;
}  // namespace grpc

namespace llmproxy::dataplane {

struct ConfigSubscriberOptions {
  // Control-plane gRPC addresses, tried in turn on each reconnect.
  std::vector<std::string> addresses;
  // The channels' credentials (MakeChannelCredentials); insecure when null.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // The TLS settings `credentials` were made from: when a stream cannot
  // connect, its log line says which --controlplane-tls* flag may be missing.
  GrpcClientTls tls;
  std::string dataplane_token;
  std::string node_id;
  std::string advertised_address;
  std::string version;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
  // Called (on the subscriber thread) after each applied revision.
  std::function<void(int64_t revision)> on_applied;
  // Called after each push with whether it was applied (ACK) or not (NACK).
  std::function<void(bool accepted)> on_push;
};

// Keeps the data plane's config current: on a thread of its own (never on the
// request path) it holds a ConfigDiscoveryService.StreamConfig stream open,
// applies each pushed snapshot or delta by building a new immutable
// ConfigSnapshot and swapping it into the SnapshotHolder, persists it, and
// ACKs (or NACKs, keeping the old config). Reconnects with jittered
// exponential backoff, rotating over the addresses.
class ConfigSubscriber {
 public:
  // `file` may be null (nothing persisted).
  ConfigSubscriber(ConfigSubscriberOptions options, SnapshotHolder& holder,
                   const SnapshotFile* file);
  ~ConfigSubscriber();

  // `clock` drives the limit buckets (tests pass a ManualClock).
  ConfigSubscriber(ConfigSubscriberOptions options, SnapshotHolder& holder,
                   const SnapshotFile* file, const Clock& clock);

  // Installs a snapshot read from disk at start-up as the current config;
  // an error (it cannot be built) leaves no config installed.
  absl::Status Seed(v1::ConfigSnapshot snapshot);

  // Applies one push (exposed for tests): OK, or why it was rejected (the
  // previous config stays). A delta that only brings fleet figures
  // (budget_spend, fleet_size) for the held revision takes a cheap path: the
  // snapshot's resources are shared and only its limit states are rebuilt,
  // and nothing is persisted.
  absl::Status Apply(const v1::StreamConfigResponse& push);
  // The same, taking over the push's payload instead of copying it (what the
  // stream does).
  absl::Status Apply(v1::StreamConfigResponse&& push);

  void Start();
  // Cancels the stream and joins the thread. Idempotent.
  void Stop();

  int64_t applied_revision() const { return applied_revision_.load(); }

 private:
  void Run();
  // Installs `next` in the holder; the replaced snapshot goes to retired_.
  void Swap(ConfigSnapshotPtr next);
  // Frees the retired snapshots no request holds any more.
  void ReleaseRetired();
  // Builds and installs `next`; on success it becomes current_.
  absl::Status Install(v1::ConfigSnapshot next, bool persist);
  // One stream's life; returns when it breaks.
  void RunStream(const std::string& address);
  // Sleeps up to `d` unless stopped; false when stopped.
  bool SleepFor(std::chrono::milliseconds d);

  ConfigSubscriberOptions options_;
  SnapshotHolder& holder_;
  const SnapshotFile* file_;
  // Live limit buckets, carried from one snapshot to the next.
  LimitRegistry registry_;

  // The proto behind the current snapshot (deltas apply to it). Only the
  // subscriber thread touches it after Start.
  std::optional<v1::ConfigSnapshot> current_;
  std::atomic<int64_t> applied_revision_{0};
  // Replaced snapshots still held by some request (subscriber thread only).
  std::vector<ConfigSnapshotPtr> retired_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  grpc::ClientContext* active_context_ = nullptr;  // guarded by mu_
  std::thread thread_;
};

}  // namespace llmproxy::dataplane
