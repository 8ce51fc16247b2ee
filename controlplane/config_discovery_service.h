#pragma once

#include <chrono>

#include "controlplane/admin_auth.h"
#include "controlplane/config_cache.h"
#include "controlplane/config_publisher.h"
#include "controlplane/metrics.h"
#include "controlplane/store/store.h"
#include "llmproxy/v1/config_service.grpc.pb.h"

namespace llmproxy::controlplane {

// ConfigDiscoveryService.StreamConfig: one long-lived stream per data plane.
//
// The stream pushes one message at a time and waits for its ACK or NACK
// before the next (changes that arrive meanwhile are coalesced into the next
// push). What it pushes:
//   * config at the newest revision S, when S is newer than what the data
//     plane holds (its hello's applied_revision, then its ACKs):
//       - a ConfigDelta {base_revision = held revision, upserted_* = the
//         current rows of every resource changed since, deleted_*_ids} when
//         the data plane holds a revision R <= S and the store's change log
//         lists every change since R (at most 1,000 of them);
//       - a full ConfigSnapshot otherwise: first contact, too far behind, R
//         newer than the database (a reset), or after a NACKed delta.
//     Both carry the current budget_spend and fleet_size.
//   * a budget refresh when only the fleet figures changed: a ConfigDelta
//     with base_revision == revision == the data plane's held revision and
//     only budget_spend and fleet_size set.
// A NACKed snapshot is not sent again; the next revision is tried (as a full
// snapshot). ACKs and NACKs are recorded in the store's fleet status.
//
// Each stream holds two threads of the synchronous server: the handler writes
// pushes while a reader thread consumes ACKs/NACKs.
class ConfigDiscoveryServiceImpl final
    : public v1::ConfigDiscoveryService::Service {
 public:
  ConfigDiscoveryServiceImpl(Store& store, ConfigCache& cache,
                             const TokenAuthenticator& auth,
                             ConfigPublisher& publisher,
                             ControlPlaneMetrics& metrics);

  grpc::Status StreamConfig(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::StreamConfigResponse,
                               v1::StreamConfigRequest>* stream) override;

 private:
  Store& store_;
  ConfigCache& cache_;
  const TokenAuthenticator& auth_;
  ConfigPublisher& publisher_;
  ControlPlaneMetrics& metrics_;
};

}  // namespace llmproxy::controlplane
