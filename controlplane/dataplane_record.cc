#include "controlplane/dataplane_record.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"

namespace llmproxy::controlplane {
namespace {

constexpr std::size_t kMaxReasonLength = 1024;

}  // namespace

DataPlaneRecord::DataPlaneRecord(Store& store, ControlPlaneMetrics& metrics,
                                 const v1::StreamConfigRequest& hello)
    : store_(store), metrics_(metrics), node_id_(hello.node_id()) {
  plane_.set_node_id(hello.node_id());
  plane_.set_address(hello.address());
  plane_.set_version(hello.version());
  plane_.set_acked_revision(hello.applied_revision());
}

void DataPlaneRecord::Hello() {
  std::lock_guard<std::mutex> lock(mu_);
  plane_.set_connected(true);
  Save();
}

void DataPlaneRecord::Answer(const v1::StreamConfigRequest& message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (message.response_revision() > 0) {
    if (message.error_detail().empty()) {
      plane_.set_acked_revision(message.response_revision());
      plane_.clear_last_nack_reason();
    } else {
      metrics_.config_nacks.Increment();
      if (message.applied_revision() > 0) {
        plane_.set_acked_revision(message.applied_revision());
      }
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

void DataPlaneRecord::Touch() {
  std::lock_guard<std::mutex> lock(mu_);
  Save();
}

void DataPlaneRecord::Closed() {
  std::lock_guard<std::mutex> lock(mu_);
  plane_.set_connected(false);
  Save();
}

void DataPlaneRecord::Save() {
  *plane_.mutable_last_contact_time() =
      google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
          absl::ToUnixMillis(absl::Now()));
  if (absl::Status s = store_.UpsertDataPlane(plane_); !s.ok()) {
    log::Warn("cannot record data plane status",
              {{"node_id", plane_.node_id()}, {"error", s.ToString()}});
  }
}

}  // namespace llmproxy::controlplane
