#pragma once

#include <chrono>

#include "common/crypto/secret_box.h"
#include "controlplane/admin_auth.h"
#include "controlplane/config_publisher.h"
#include "controlplane/metrics.h"
#include "controlplane/store/store.h"
#include "llmproxy/v1/config_service.grpc.pb.h"

namespace llmproxy::controlplane {

// ConfigDiscoveryService.StreamConfig: one long-lived stream per data plane.
//
// After the data plane's hello, the stream pushes a full snapshot of the
// newest revision, then a new one whenever the ConfigPublisher reports that
// the revision moved (or the fleet size changed, which fleet-wide limits
// depend on). Each push reads the newest state, so a burst of changes is
// coalesced. ACKs and NACKs are recorded in the store's fleet status.
//
// Each stream holds two threads of the synchronous server: the handler writes
// pushes while a reader thread consumes ACKs/NACKs.
class ConfigDiscoveryServiceImpl final
    : public v1::ConfigDiscoveryService::Service {
 public:
  ConfigDiscoveryServiceImpl(Store& store, const SecretBox& secret_box,
                             const TokenAuthenticator& auth,
                             ConfigPublisher& publisher,
                             ControlPlaneMetrics& metrics);

  grpc::Status StreamConfig(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::StreamConfigResponse,
                               v1::StreamConfigRequest>* stream) override;

 private:
  Store& store_;
  const SecretBox& secret_box_;
  const TokenAuthenticator& auth_;
  ConfigPublisher& publisher_;
  ControlPlaneMetrics& metrics_;
};

}  // namespace llmproxy::controlplane
