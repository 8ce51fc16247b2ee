#include "controlplane/controlplane_server.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controlplane/admin_auth.h"
#include "controlplane/admin_service.h"
#include "controlplane/config_cache.h"
#include "controlplane/config_discovery_service.h"
#include "controlplane/config_publisher.h"
#include "controlplane/metrics.h"
#include "controlplane/rpc_metrics.h"
#include "controlplane/usage_service.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "prometheus/registry.h"

namespace llmproxy::controlplane {

ControlPlaneServer::ControlPlaneServer(ControlPlaneOptions options,
                                       StorePtr store, SecretBox secret_box)
    : options_(std::move(options)),
      store_(std::move(store)),
      secret_box_(secret_box),
      registry_(options_.registry ? options_.registry
                                  : std::make_shared<prometheus::Registry>()),
      metrics_(std::make_unique<ControlPlaneMetrics>(*registry_)),
      auth_(std::make_unique<TokenAuthenticator>(options_.admin_token,
                                                 options_.dataplane_token)),
      cache_(std::make_unique<ConfigCache>(*store_, secret_box_)),
      publisher_(std::make_unique<ConfigPublisher>(
          *store_, *cache_,
          PublisherOptions{
              .revision_poll_interval = options_.revision_poll_interval,
              .listen_database_url = options_.listen_database_url,
              .budget_refresh_interval = options_.budget_refresh_interval,
              .heartbeat_interval = options_.heartbeat_interval},
          *metrics_)),
      admin_service_(std::make_unique<AdminServiceImpl>(*store_, secret_box_,
                                                        *auth_, *publisher_)),
      config_service_(std::make_unique<ConfigDiscoveryServiceImpl>(
          *store_, *cache_, *auth_, *publisher_, *metrics_)),
      usage_service_(
          std::make_unique<UsageServiceImpl>(*store_, *auth_, *metrics_)) {}

ControlPlaneServer::~ControlPlaneServer() {
  Shutdown(std::chrono::milliseconds(0));
}

absl::Status ControlPlaneServer::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.grpc_address,
                           options_.grpc_credentials
                               ? options_.grpc_credentials
                               : grpc::InsecureServerCredentials(),
                           &port_);
  builder.RegisterService(admin_service_.get());
  builder.RegisterService(config_service_.get());
  builder.RegisterService(usage_service_.get());
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(
      NewRpcMetricsInterceptorFactory(metrics_->rpc_duration));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen for gRPC on ", options_.grpc_address));
  }
  publisher_->Start();
  return absl::OkStatus();
}

bool ControlPlaneServer::Ready() const {
  return server_ != nullptr && publisher_->store_reachable();
}

void ControlPlaneServer::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_ || !server_) return;
  shut_down_ = true;
  // Config streams never end on their own: stopping the publisher makes
  // each of them return, so Shutdown below only waits for unary calls.
  publisher_->Stop();
  if (auto* health = server_->GetHealthCheckService()) {
    health->Shutdown();
  }
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
}

}  // namespace llmproxy::controlplane
