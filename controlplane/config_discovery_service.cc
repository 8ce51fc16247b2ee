#include "controlplane/config_discovery_service.h"

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "controlplane/grpc_status.h"
#include "controlplane/snapshot_builder.h"
#include "google/protobuf/util/time_util.h"

namespace llmproxy::controlplane {
namespace {

using google::protobuf::util::TimeUtil;

constexpr std::size_t kMaxNodeIdLength = 256;
constexpr std::size_t kMaxReasonLength = 1024;
// How long a woken stream waits for more changes before it reads the state:
// a burst of admin calls (a script creating ten models) becomes one push.
constexpr auto kCoalesceDelay = std::chrono::milliseconds(50);
// How often an idle stream checks that it was cancelled.
constexpr auto kIdleCheck = std::chrono::milliseconds(250);

google::protobuf::Timestamp Now() {
  return TimeUtil::MillisecondsToTimestamp(absl::ToUnixMillis(absl::Now()));
}

// What this stream knows of its data plane, written to the store on every
// message so `dataplanes list` shows acks, nacks and last contact.
class FleetRecord {
 public:
  FleetRecord(Store& store, ControlPlaneMetrics& metrics,
              const v1::StreamConfigRequest& hello)
      : store_(store), metrics_(metrics) {
    plane_.set_node_id(hello.node_id());
    plane_.set_address(hello.address());
    plane_.set_version(hello.version());
    plane_.set_acked_revision(hello.applied_revision());
  }

  void Hello() {
    std::lock_guard<std::mutex> lock(mu_);
    Save();
  }

  void Answer(const v1::StreamConfigRequest& message) {
    std::lock_guard<std::mutex> lock(mu_);
    if (message.response_revision() > 0) {
      if (message.error_detail().empty()) {
        plane_.set_acked_revision(message.response_revision());
        plane_.clear_last_nack_reason();
      } else {
        metrics_.config_nacks.Increment();
        plane_.set_nacked_revision(message.response_revision());
        plane_.set_last_nack_reason(
            message.error_detail().substr(0, kMaxReasonLength));
        log::Warn("data plane rejected config",
                  {{"node_id", plane_.node_id()},
                   {"revision", absl::StrCat(message.response_revision())},
                   {"reason", plane_.last_nack_reason()}});
      }
    }
    if (!message.address().empty()) plane_.set_address(message.address());
    if (!message.version().empty()) plane_.set_version(message.version());
    Save();
  }

 private:
  void Save() {
    *plane_.mutable_last_contact_time() = Now();
    if (absl::Status s = store_.UpsertDataPlane(plane_); !s.ok()) {
      log::Warn("cannot record data plane status",
                {{"node_id", plane_.node_id()}, {"error", s.ToString()}});
    }
  }

  Store& store_;
  ControlPlaneMetrics& metrics_;
  std::mutex mu_;
  v1::DataPlane plane_;
};

}  // namespace

ConfigDiscoveryServiceImpl::ConfigDiscoveryServiceImpl(
    Store& store, const SecretBox& secret_box, const TokenAuthenticator& auth,
    ConfigPublisher& publisher, ControlPlaneMetrics& metrics)
    : store_(store),
      secret_box_(secret_box),
      auth_(auth),
      publisher_(publisher),
      metrics_(metrics) {}

grpc::Status ConfigDiscoveryServiceImpl::StreamConfig(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::StreamConfigResponse, v1::StreamConfigRequest>*
        stream) {
  if (grpc::Status s = auth_.CheckDataPlane(*context); !s.ok()) return s;
  v1::StreamConfigRequest hello;
  if (!stream->Read(&hello)) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "stream closed");
  }
  if (hello.node_id().empty() || hello.node_id().size() > kMaxNodeIdLength) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "node_id must be 1-256 characters");
  }
  const std::string node_id = hello.node_id();
  FleetRecord record(store_, metrics_, hello);
  record.Hello();
  publisher_.StreamOpened(node_id);
  log::Info("data plane connected",
            {{"node_id", node_id},
             {"peer", context->peer()},
             {"applied_revision", absl::StrCat(hello.applied_revision())}});

  // ACKs and NACKs arrive whenever the data plane has applied a push; read
  // them on their own thread so the writer below never blocks on them.
  std::atomic<bool> peer_done{false};
  std::thread reader([&] {
    v1::StreamConfigRequest message;
    while (stream->Read(&message)) record.Answer(message);
    peer_done = true;
  });

  grpc::Status result = grpc::Status::OK;
  ConfigPublisher::Version sent{.revision = -1, .fleet_epoch = -1};
  while (!peer_done && !context->IsCancelled() && !publisher_.stopped()) {
    ConfigPublisher::Version now = publisher_.Current();
    if (now == sent) {
      publisher_.WaitForChange(sent, kIdleCheck);
      if (!(publisher_.Current() == sent) && sent.revision >= 0) {
        std::this_thread::sleep_for(kCoalesceDelay);
      }
      continue;
    }
    absl::StatusOr<v1::ConfigSnapshot> snapshot = BuildDataPlaneSnapshot(
        store_, secret_box_, publisher_.fleet_size(), absl::Now());
    if (!snapshot.ok()) {
      log::Error(
          "cannot build config snapshot",
          {{"node_id", node_id}, {"error", snapshot.status().ToString()}});
      if (snapshot.status().code() == absl::StatusCode::kUnavailable) {
        // The database is down: the data plane keeps its config; try again
        // on the next wake-up.
        publisher_.WaitForChange(now, kIdleCheck * 4);
        continue;
      }
      result = ToGrpcStatus(snapshot.status());
      break;
    }
    v1::StreamConfigResponse push;
    push.set_revision(snapshot->revision());
    *push.mutable_snapshot() = *std::move(snapshot);
    if (!stream->Write(push)) break;
    metrics_.config_pushes.Increment();
    log::Debug("config pushed", {{"node_id", node_id},
                                 {"revision", absl::StrCat(push.revision())}});
    // The snapshot may be newer than what the publisher had seen; never go
    // back to an older revision.
    sent = {.revision = std::max(now.revision, push.revision()),
            .fleet_epoch = now.fleet_epoch};
    publisher_.NotifyRevision(push.revision());
  }

  // Unblocks the reader's Read when this side ends the stream (shutdown,
  // failed write, snapshot error).
  if (!peer_done) context->TryCancel();
  reader.join();
  publisher_.StreamClosed(node_id);
  log::Info("data plane disconnected", {{"node_id", node_id}});
  return result;
}

}  // namespace llmproxy::controlplane
