#pragma once

#include <mutex>
#include <string>

#include "controlplane/metrics.h"
#include "controlplane/store/store.h"
#include "llmproxy/v1/config_service.pb.h"

namespace llmproxy::controlplane {

// What one config stream knows of its data plane, written to the store's
// fleet status on every message and on every heartbeat, so `dataplanes list`
// on any replica shows acks, nacks, and whether and when it was last in
// contact. Thread-safe.
class DataPlaneRecord {
 public:
  DataPlaneRecord(Store& store, ControlPlaneMetrics& metrics,
                  const v1::StreamConfigRequest& hello);

  DataPlaneRecord(const DataPlaneRecord&) = delete;
  DataPlaneRecord& operator=(const DataPlaneRecord&) = delete;

  const std::string& node_id() const { return node_id_; }

  // The stream opened: connected, in contact now.
  void Hello();
  // An ACK or NACK (or any later message) arrived.
  void Answer(const v1::StreamConfigRequest& message);
  // The stream is still open: refreshes last contact, which is how other
  // replicas know it is connected.
  void Touch();
  // The stream closed (and no other stream of this node is open here).
  void Closed();

 private:
  void Save();  // Requires mu_.

  Store& store_;
  ControlPlaneMetrics& metrics_;
  const std::string node_id_;
  std::mutex mu_;
  v1::DataPlane plane_;
};

}  // namespace llmproxy::controlplane
