#pragma once

// A real control plane for tests: the gRPC server on a free loopback port,
// over an SQLite store in a fresh temporary directory (or, in subclasses, a
// fresh PostgreSQL database), reached through real gRPC stubs. More replicas
// over the same database start with AddReplica().

#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto/random.h"
#include "common/crypto/secret_box.h"
#include "controlplane/controlplane_server.h"
#include "controlplane/store/store.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "llmproxy/v1/admin_service.grpc.pb.h"
#include "llmproxy/v1/config_service.grpc.pb.h"
#include "llmproxy/v1/usage_service.grpc.pb.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace llmproxy::controlplane::testing {

inline constexpr char kAdminToken[] = "admin-token-for-tests-0123456789";
inline constexpr char kDataPlaneToken[] = "dataplane-token-for-tests-98765";

// One control-plane replica: the server and stubs that reach it.
struct Replica {
  std::unique_ptr<ControlPlaneServer> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::AdminService::Stub> admin;
  std::unique_ptr<v1::ConfigDiscoveryService::Stub> config;
  std::unique_ptr<v1::UsageService::Stub> usage;
};

// The PostgreSQL server of the CTest fixture `postgres` (URL in the file
// named by LLMPROXY_TEST_PG_URL_FILE), or "" when not set.
inline std::string PostgresServerUrl() {
  const char* file = std::getenv("LLMPROXY_TEST_PG_URL_FILE");
  if (file == nullptr || *file == '\0') return "";
  std::ifstream in(file);
  std::string url;
  std::getline(in, url);
  return url;
}

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/llmproxy-cp-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    ASSERT_NO_FATAL_FAILURE(database_url_ = CreateDatabase());
    ASSERT_FALSE(database_url_.empty());
    Replica first = StartReplica();
    ASSERT_TRUE(first.server != nullptr);
    server_ = std::move(first.server);
    channel_ = std::move(first.channel);
    admin_ = std::move(first.admin);
    config_ = std::move(first.config);
    usage_ = std::move(first.usage);
  }

  void TearDown() override {
    for (Replica& replica : replicas_) {
      if (replica.server) {
        replica.server->Shutdown(std::chrono::milliseconds(500));
      }
    }
    replicas_.clear();
    if (server_) server_->Shutdown(std::chrono::milliseconds(500));
    server_.reset();
    DropDatabase();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // The database the replicas share: an SQLite file in the test's directory.
  virtual std::string CreateDatabase() {
    return "sqlite://" + (dir_ / "test.db").string();
  }
  virtual void DropDatabase() {}

  // The options every replica starts with; tests may change them before
  // StartReplica (the first replica starts in SetUp).
  virtual ControlPlaneOptions Options() {
    ControlPlaneOptions options;
    options.grpc_address = "127.0.0.1:0";
    options.admin_token = kAdminToken;
    options.dataplane_token = kDataPlaneToken;
    options.revision_poll_interval = std::chrono::milliseconds(100);
    options.budget_refresh_interval = std::chrono::milliseconds(200);
    options.heartbeat_interval = std::chrono::milliseconds(200);
    return options;
  }

  // Starts a control plane over the shared database (migrated here), with
  // the same encryption key as the others. The first one registers its
  // metrics in registry_; later ones in their own registries.
  Replica StartReplica(std::optional<ControlPlaneOptions> custom = {}) {
    Replica replica;
    absl::StatusOr<StorePtr> store = OpenStore(database_url_);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return replica;
    EXPECT_TRUE((*store)->Migrate().ok());
    absl::StatusOr<SecretBox> box = SecretBox::FromKeyMaterial(key_material_);
    EXPECT_TRUE(box.ok());
    ControlPlaneOptions options = custom ? *custom : Options();
    if (!options.registry) {
      options.registry =
          started_ == 0 ? registry_ : std::make_shared<prometheus::Registry>();
    }
    ++started_;
    replica.server =
        std::make_unique<ControlPlaneServer>(options, *std::move(store), *box);
    absl::Status started = replica.server->Start();
    EXPECT_TRUE(started.ok()) << started;
    if (!started.ok()) {
      replica.server.reset();
      return replica;
    }
    replica.channel = grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(replica.server->port()),
        grpc::InsecureChannelCredentials());
    replica.admin = v1::AdminService::NewStub(replica.channel);
    replica.config = v1::ConfigDiscoveryService::NewStub(replica.channel);
    replica.usage = v1::UsageService::NewStub(replica.channel);
    return replica;
  }

  // Starts another replica that the fixture shuts down in TearDown.
  Replica& AddReplica(std::optional<ControlPlaneOptions> options = {}) {
    replicas_.push_back(StartReplica(std::move(options)));
    return replicas_.back();
  }

  // A context carrying `token` as a bearer token ("" for none), with a
  // deadline so a hung server fails the test instead of hanging it.
  static std::unique_ptr<grpc::ClientContext> Ctx(
      const std::string& token = kAdminToken,
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) {
      context->AddMetadata("authorization", "Bearer " + token);
    }
    context->set_deadline(std::chrono::system_clock::now() + timeout);
    return context;
  }

  // Creates a valid connection named `name`; fails the test on error.
  v1::Connection MakeConnection(const std::string& name,
                                const std::string& api_key = "sk-test-abcdef") {
    v1::CreateConnectionRequest request;
    v1::Connection* connection = request.mutable_connection();
    connection->set_name(name);
    connection->set_provider("openai");
    connection->set_endpoint("https://api.openai.com/v1");
    connection->set_api_key(api_key);
    v1::Connection created;
    grpc::Status status =
        admin_->CreateConnection(Ctx().get(), request, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return created;
  }

  v1::Model MakeModel(const std::string& connection_id,
                      const std::string& name = "gpt-4o",
                      const std::string& remote = "gpt-4o-2024-08-06") {
    v1::CreateModelRequest request;
    request.mutable_model()->set_name(name);
    request.mutable_model()->set_remote_model(remote);
    request.mutable_model()->set_connection_id(connection_id);
    request.mutable_model()->set_input_price_per_million(2.5);
    request.mutable_model()->set_output_price_per_million(10);
    v1::Model created;
    grpc::Status status = admin_->CreateModel(Ctx().get(), request, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return created;
  }

  v1::VirtualKey MakeVirtualKey(const std::string& name) {
    v1::CreateVirtualKeyRequest request;
    request.mutable_virtual_key()->set_name(name);
    v1::VirtualKey created;
    grpc::Status status =
        admin_->CreateVirtualKey(Ctx().get(), request, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return created;
  }

  v1::Assignment MakeAssignment(const std::string& virtual_key_id,
                                const std::string& model_id) {
    v1::CreateAssignmentRequest request;
    request.mutable_assignment()->set_virtual_key_id(virtual_key_id);
    request.mutable_assignment()->set_model_id(model_id);
    v1::Assignment created;
    grpc::Status status =
        admin_->CreateAssignment(Ctx().get(), request, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return created;
  }

  // The metrics as /metrics would serve them.
  std::string MetricsText() const {
    return prometheus::TextSerializer().Serialize(registry_->Collect());
  }

  std::filesystem::path dir_;
  std::string database_url_;
  const std::string key_material_ = RandomHex(SecretBox::kKeySize);
  int started_ = 0;
  std::deque<Replica> replicas_;
  std::shared_ptr<prometheus::Registry> registry_ =
      std::make_shared<prometheus::Registry>();
  std::unique_ptr<ControlPlaneServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::ConfigDiscoveryService::Stub> config_;
  std::unique_ptr<v1::UsageService::Stub> usage_;
};

}  // namespace llmproxy::controlplane::testing
