#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/crypto/secret_box.h"
#include "controlplane/store/store.h"

namespace grpc {
class Server;
class ServerCredentials;
}  // namespace grpc

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace llmproxy::controlplane {

class AdminServiceImpl;
class ConfigCache;
class ConfigDiscoveryServiceImpl;
class ConfigPublisher;
struct ControlPlaneMetrics;
class TokenAuthenticator;
class UsageServiceImpl;

struct ControlPlaneOptions {
  // "host:port"; port 0 picks a free one (see ControlPlaneServer::port()).
  std::string grpc_address = "127.0.0.1:50051";
  // Empty: admin calls are not authenticated (loopback dev mode only).
  std::string admin_token;
  // Empty: data planes use the admin token (or nothing when both are empty).
  std::string dataplane_token;
  // Fallback poll of the store's revision, for changes made through other
  // control-plane replicas.
  std::chrono::milliseconds revision_poll_interval{500};
  // PostgreSQL URL to LISTEN on for changes made through other replicas
  // (instant; the poll above stays as the fallback). Empty: poll only.
  std::string listen_database_url;
  // How often budget spend and fleet size are recomputed and, when they
  // changed, pushed to the data planes.
  std::chrono::milliseconds budget_refresh_interval{1000};
  // How often this replica refreshes the last contact of its connected data
  // planes in the store (they count as connected for 3 heartbeats).
  std::chrono::milliseconds heartbeat_interval{2000};
  // Where the control plane's metrics go (served on /metrics by main); a
  // private registry when null.
  std::shared_ptr<prometheus::Registry> registry;
  // The gRPC port's credentials (MakeServerCredentials); plain text when
  // null.
  std::shared_ptr<grpc::ServerCredentials> grpc_credentials;
};

// The control plane's gRPC server: AdminService, ConfigDiscoveryService,
// UsageService, server reflection and grpc.health.v1.Health, over one store.
// main() and the tests run it the same way.
class ControlPlaneServer {
 public:
  // The store must be migrated already.
  ControlPlaneServer(ControlPlaneOptions options, StorePtr store,
                     SecretBox secret_box);
  ~ControlPlaneServer();

  ControlPlaneServer(const ControlPlaneServer&) = delete;
  ControlPlaneServer& operator=(const ControlPlaneServer&) = delete;

  // Binds and starts serving. UNAVAILABLE when the address cannot be bound.
  absl::Status Start();

  // The bound gRPC port (the real one when 0 was asked).
  int port() const { return port_; }

  // Whether the store answered the last revision poll (for /readyz).
  bool Ready() const;

  // Ends config streams, lets unary calls finish for up to `grace`, then
  // cancels what is left. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);

  Store& store() { return *store_; }

 private:
  ControlPlaneOptions options_;
  StorePtr store_;
  SecretBox secret_box_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<ControlPlaneMetrics> metrics_;
  std::unique_ptr<TokenAuthenticator> auth_;
  std::unique_ptr<ConfigCache> cache_;
  std::unique_ptr<ConfigPublisher> publisher_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::unique_ptr<ConfigDiscoveryServiceImpl> config_service_;
  std::unique_ptr<UsageServiceImpl> usage_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace llmproxy::controlplane
