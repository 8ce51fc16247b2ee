// AdminService over real gRPC against an in-process control plane.

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "controlplane/test_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace llmproxy::controlplane {
namespace {

using testing::ControlPlaneTest;
using ::testing::HasSubstr;
using testing::kAdminToken;
using testing::kDataPlaneToken;
using ::testing::StartsWith;

class AdminServiceTest : public ControlPlaneTest {
 protected:
  v1::CreateConnectionRequest ValidConnectionRequest() {
    v1::CreateConnectionRequest request;
    request.mutable_connection()->set_name("openai-prod");
    request.mutable_connection()->set_provider("openai");
    request.mutable_connection()->set_endpoint("https://api.openai.com/v1");
    request.mutable_connection()->set_api_key("sk-proj-secret-abcd");
    return request;
  }
};

// ----------------------------------------------------------- authentication

TEST_F(AdminServiceTest, RefusesCallsWithoutAToken) {
  v1::GetConfigRevisionResponse response;
  grpc::Status status = admin_->GetConfigRevision(
      Ctx("").get(), v1::GetConfigRevisionRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AdminServiceTest, RefusesAWrongTokenWithoutEchoingIt) {
  v1::Connection response;
  grpc::Status status = admin_->CreateConnection(
      Ctx("guessed-token-XYZ").get(), ValidConnectionRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr("XYZ")));
}

TEST_F(AdminServiceTest, RefusesTheDataPlaneToken) {
  v1::ListConnectionsResponse response;
  grpc::Status status = admin_->ListConnections(
      Ctx(kDataPlaneToken).get(), v1::ListConnectionsRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AdminServiceTest, RefusesAMalformedAuthorizationHeader) {
  grpc::ClientContext context;
  context.AddMetadata("authorization", kAdminToken);  // no "Bearer "
  v1::ListConnectionsResponse response;
  grpc::Status status = admin_->ListConnections(
      &context, v1::ListConnectionsRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// --------------------------------------------------------------- connection

TEST_F(AdminServiceTest, CreateConnectionReturnsOnlyTheMaskedKey) {
  v1::Connection created;
  ASSERT_TRUE(
      admin_->CreateConnection(Ctx().get(), ValidConnectionRequest(), &created)
          .ok());
  EXPECT_THAT(created.id(), StartsWith("cn_"));
  EXPECT_EQ(created.id().size(), 15u);
  EXPECT_EQ(created.api_key(), "");
  EXPECT_EQ(created.api_key_masked(), "sk-…abcd");
  EXPECT_FALSE(created.etag().empty());
  EXPECT_TRUE(created.has_enabled() && created.enabled());
  EXPECT_TRUE(created.has_create_time());
}

TEST_F(AdminServiceTest, GetAndListNeverReturnTheProviderKey) {
  v1::Connection created = MakeConnection("c1", "sk-live-verysecret-9999");
  v1::GetConnectionRequest get;
  get.set_id(created.id());
  v1::Connection fetched;
  ASSERT_TRUE(admin_->GetConnection(Ctx().get(), get, &fetched).ok());
  EXPECT_EQ(fetched.api_key(), "");
  EXPECT_EQ(fetched.api_key_masked(), "sk-…9999");
  v1::ListConnectionsResponse list;
  ASSERT_TRUE(
      admin_->ListConnections(Ctx().get(), v1::ListConnectionsRequest(), &list)
          .ok());
  ASSERT_EQ(list.connections_size(), 1);
  EXPECT_EQ(list.connections(0).api_key(), "");
  EXPECT_THAT(list.DebugString(), ::testing::Not(HasSubstr("verysecret")));
}

TEST_F(AdminServiceTest, ProviderKeyIsStoredSealed) {
  v1::Connection created = MakeConnection("c1", "sk-live-verysecret-9999");
  absl::StatusOr<v1::Connection> stored =
      server_->store().GetConnection(created.id());
  ASSERT_TRUE(stored.ok());
  EXPECT_THAT(stored->api_key(), StartsWith("v1:"));
  EXPECT_THAT(stored->api_key(), ::testing::Not(HasSubstr("verysecret")));
}

struct InvalidConnectionCase {
  std::string description;
  std::function<void(v1::Connection&)> mutate;
  std::string message_start;
};

TEST_F(AdminServiceTest, CreateConnectionRejectsEachInvalidField) {
  const std::vector<InvalidConnectionCase> cases = {
      {"empty name", [](auto& c) { c.set_name(""); }, "connection.name"},
      {"name with space", [](auto& c) { c.set_name("a b"); },
       "connection.name"},
      {"name too long", [](auto& c) { c.set_name(std::string(129, 'a')); },
       "connection.name"},
      {"unknown provider", [](auto& c) { c.set_provider("openia"); },
       "connection.provider must be one of openai, azure_openai, gemini, "
       "anthropic, bedrock, openai_compatible"},
      {"no endpoint", [](auto& c) { c.set_endpoint(""); },
       "connection.endpoint"},
      {"ftp endpoint", [](auto& c) { c.set_endpoint("ftp://x.example/"); },
       "connection.endpoint"},
      {"endpoint not a URL", [](auto& c) { c.set_endpoint("api.openai.com"); },
       "connection.endpoint"},
      {"no api key", [](auto& c) { c.set_api_key(""); },
       "connection.api_key is required"},
      {"api key too long",
       [](auto& c) { c.set_api_key(std::string(4097, 'k')); },
       "connection.api_key"},
      {"api key with newline", [](auto& c) { c.set_api_key("sk-a\nb"); },
       "connection.api_key"},
      {"negative timeout", [](auto& c) { c.set_timeout_ms(-1); },
       "connection.timeout_ms"},
      {"header with CRLF",
       [](auto& c) { (*c.mutable_extra_headers())["x-a"] = "1\r\nx-b: 2"; },
       "connection.extra_headers"},
      {"bedrock without endpoint or region",
       [](auto& c) {
         c.set_provider("bedrock");
         c.set_endpoint("");
       },
       "connection.region"},
  };
  for (const InvalidConnectionCase& test_case : cases) {
    SCOPED_TRACE(test_case.description);
    v1::CreateConnectionRequest request = ValidConnectionRequest();
    test_case.mutate(*request.mutable_connection());
    v1::Connection response;
    grpc::Status status =
        admin_->CreateConnection(Ctx().get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), StartsWith(test_case.message_start));
  }
}

TEST_F(AdminServiceTest, CreateConnectionAcceptsBedrockWithRegionOnly) {
  v1::CreateConnectionRequest request = ValidConnectionRequest();
  request.mutable_connection()->set_provider("bedrock");
  request.mutable_connection()->set_endpoint("");
  request.mutable_connection()->set_region("us-east-1");
  request.mutable_connection()->set_api_key("AKIAEXAMPLE:secretsecret");
  v1::Connection created;
  grpc::Status status =
      admin_->CreateConnection(Ctx().get(), request, &created);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(AdminServiceTest, CreateConnectionRefusesATakenName) {
  MakeConnection("dup");
  v1::CreateConnectionRequest request = ValidConnectionRequest();
  request.mutable_connection()->set_name("dup");
  v1::Connection response;
  EXPECT_EQ(
      admin_->CreateConnection(Ctx().get(), request, &response).error_code(),
      grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(AdminServiceTest, GetConnectionOfUnknownIdIsNotFound) {
  v1::GetConnectionRequest request;
  request.set_id("cn_000000000000");
  v1::Connection response;
  EXPECT_EQ(admin_->GetConnection(Ctx().get(), request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(AdminServiceTest, GetConnectionOfMalformedIdIsInvalid) {
  v1::GetConnectionRequest request;
  request.set_id("md_000000000000");
  v1::Connection response;
  grpc::Status status = admin_->GetConnection(Ctx().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("id"));
}

TEST_F(AdminServiceTest, UpdateConnectionWritesOnlyTheMaskedFields) {
  v1::Connection created = MakeConnection("c1", "sk-original-key-1111");
  v1::UpdateConnectionRequest request;
  request.mutable_connection()->set_id(created.id());
  request.mutable_connection()->set_endpoint("https://proxy.example.com/v1");
  request.mutable_connection()->set_name("ignored-not-in-mask");
  request.mutable_update_mask()->add_paths("endpoint");
  v1::Connection updated;
  grpc::Status status =
      admin_->UpdateConnection(Ctx().get(), request, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(updated.endpoint(), "https://proxy.example.com/v1");
  EXPECT_EQ(updated.name(), "c1");
  EXPECT_EQ(updated.api_key_masked(), "sk-…1111");
  EXPECT_EQ(updated.api_key(), "");
  EXPECT_NE(updated.etag(), created.etag());
}

TEST_F(AdminServiceTest, UpdateConnectionWithEmptyMaskKeepsTheKeyWhenAbsent) {
  v1::Connection created = MakeConnection("c1", "sk-original-key-1111");
  v1::UpdateConnectionRequest request;
  *request.mutable_connection() = created;
  request.mutable_connection()->set_name("renamed");
  request.mutable_connection()->set_timeout_ms(3000);
  v1::Connection updated;
  grpc::Status status =
      admin_->UpdateConnection(Ctx().get(), request, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(updated.name(), "renamed");
  EXPECT_EQ(updated.timeout_ms(), 3000);
  EXPECT_EQ(updated.api_key_masked(), "sk-…1111");
  EXPECT_TRUE(updated.enabled());
}

TEST_F(AdminServiceTest, UpdateConnectionReplacesTheKey) {
  v1::Connection created = MakeConnection("c1", "sk-original-key-1111");
  v1::UpdateConnectionRequest request;
  request.mutable_connection()->set_id(created.id());
  request.mutable_connection()->set_api_key("sk-rotated-key-2222");
  request.mutable_update_mask()->add_paths("api_key");
  v1::Connection updated;
  ASSERT_TRUE(admin_->UpdateConnection(Ctx().get(), request, &updated).ok());
  EXPECT_EQ(updated.api_key_masked(), "sk-…2222");
  EXPECT_EQ(updated.api_key(), "");
}

TEST_F(AdminServiceTest, UpdateConnectionRefusesAnEmptyKeyNamedInTheMask) {
  v1::Connection created = MakeConnection("c1");
  v1::UpdateConnectionRequest request;
  request.mutable_connection()->set_id(created.id());
  request.mutable_update_mask()->add_paths("api_key");
  v1::Connection updated;
  grpc::Status status =
      admin_->UpdateConnection(Ctx().get(), request, &updated);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("connection.api_key"));
}

TEST_F(AdminServiceTest, UpdateConnectionRefusesUnknownMaskPaths) {
  v1::Connection created = MakeConnection("c1");
  for (const char* path : {"id", "etag", "api_key_masked", "nonsense"}) {
    SCOPED_TRACE(path);
    v1::UpdateConnectionRequest request;
    request.mutable_connection()->set_id(created.id());
    request.mutable_update_mask()->add_paths(path);
    v1::Connection updated;
    grpc::Status status =
        admin_->UpdateConnection(Ctx().get(), request, &updated);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr(path));
  }
}

TEST_F(AdminServiceTest, UpdateConnectionValidatesTheResult) {
  v1::Connection created = MakeConnection("c1");
  v1::UpdateConnectionRequest request;
  request.mutable_connection()->set_id(created.id());
  request.mutable_connection()->set_provider("nope");
  request.mutable_update_mask()->add_paths("provider");
  v1::Connection updated;
  grpc::Status status =
      admin_->UpdateConnection(Ctx().get(), request, &updated);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("connection.provider"));
}

TEST_F(AdminServiceTest, UpdateConnectionWithAStaleEtagIsAborted) {
  v1::Connection created = MakeConnection("c1");
  v1::UpdateConnectionRequest first;
  first.mutable_connection()->set_id(created.id());
  first.mutable_connection()->set_timeout_ms(1000);
  first.mutable_connection()->set_etag(created.etag());
  first.mutable_update_mask()->add_paths("timeout_ms");
  v1::Connection updated;
  ASSERT_TRUE(admin_->UpdateConnection(Ctx().get(), first, &updated).ok());
  // A second writer still holding the original etag loses.
  grpc::Status status = admin_->UpdateConnection(Ctx().get(), first, &updated);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);
}

TEST_F(AdminServiceTest, UpdateConnectionOfUnknownIdIsNotFound) {
  v1::UpdateConnectionRequest request;
  request.mutable_connection()->set_id("cn_0123456789ab");
  request.mutable_update_mask()->add_paths("timeout_ms");
  v1::Connection updated;
  EXPECT_EQ(
      admin_->UpdateConnection(Ctx().get(), request, &updated).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(AdminServiceTest, DeleteConnectionWithAStaleEtagIsAborted) {
  v1::Connection created = MakeConnection("c1");
  MakeConnection("c2");  // Moves the revision on.
  v1::UpdateConnectionRequest update;
  update.mutable_connection()->set_id(created.id());
  update.mutable_connection()->set_timeout_ms(5);
  update.mutable_update_mask()->add_paths("timeout_ms");
  v1::Connection updated;
  ASSERT_TRUE(admin_->UpdateConnection(Ctx().get(), update, &updated).ok());
  v1::DeleteConnectionRequest request;
  request.set_id(created.id());
  request.set_etag(created.etag());
  v1::DeleteConnectionResponse response;
  EXPECT_EQ(
      admin_->DeleteConnection(Ctx().get(), request, &response).error_code(),
      grpc::StatusCode::ABORTED);
  request.set_etag(updated.etag());
  EXPECT_TRUE(admin_->DeleteConnection(Ctx().get(), request, &response).ok());
  EXPECT_GT(response.revision(), 0);
}

TEST_F(AdminServiceTest, DeleteConnectionInUseNeedsForce) {
  v1::Connection connection = MakeConnection("c1");
  v1::Model model = MakeModel(connection.id());
  v1::DeleteConnectionRequest request;
  request.set_id(connection.id());
  v1::DeleteConnectionResponse response;
  EXPECT_EQ(
      admin_->DeleteConnection(Ctx().get(), request, &response).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);

  request.set_force(true);
  ASSERT_TRUE(admin_->DeleteConnection(Ctx().get(), request, &response).ok());
  v1::GetModelRequest get;
  get.set_id(model.id());
  v1::Model gone;
  EXPECT_EQ(admin_->GetModel(Ctx().get(), get, &gone).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(AdminServiceTest, ListConnectionsPagesThroughEverything) {
  for (int i = 0; i < 5; ++i) MakeConnection("c" + std::to_string(i));
  std::vector<std::string> seen;
  v1::ListConnectionsRequest request;
  request.set_page_size(2);
  int pages = 0;
  do {
    v1::ListConnectionsResponse response;
    ASSERT_TRUE(admin_->ListConnections(Ctx().get(), request, &response).ok());
    EXPECT_LE(response.connections_size(), 2);
    for (const auto& c : response.connections()) seen.push_back(c.name());
    request.set_page_token(response.next_page_token());
    ++pages;
  } while (!request.page_token().empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen.size(), 5u);
}

TEST_F(AdminServiceTest, ListRejectsBadPageSizeAndToken) {
  v1::ListConnectionsResponse response;
  for (int size : {-1, 1001}) {
    v1::ListConnectionsRequest request;
    request.set_page_size(size);
    grpc::Status status =
        admin_->ListConnections(Ctx().get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), StartsWith("page_size"));
  }
  v1::ListConnectionsRequest request;
  request.set_page_token("not a token!");
  grpc::Status status =
      admin_->ListConnections(Ctx().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("page_token"));
}

TEST_F(AdminServiceTest, PageTokenOfAnotherListIsRefused) {
  v1::Connection connection = MakeConnection("c1");
  MakeModel(connection.id(), "a", "a");
  MakeModel(connection.id(), "b", "b");
  v1::ListModelsRequest models_request;
  models_request.set_page_size(1);
  v1::ListModelsResponse models;
  ASSERT_TRUE(admin_->ListModels(Ctx().get(), models_request, &models).ok());
  ASSERT_FALSE(models.next_page_token().empty());
  v1::ListConnectionsRequest request;
  request.set_page_token(models.next_page_token());
  v1::ListConnectionsResponse response;
  EXPECT_EQ(
      admin_->ListConnections(Ctx().get(), request, &response).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
}

// -------------------------------------------------------------------- model

TEST_F(AdminServiceTest, CreateModelDefaultsToEnabled) {
  v1::Connection connection = MakeConnection("c1");
  v1::Model model = MakeModel(connection.id());
  EXPECT_THAT(model.id(), StartsWith("md_"));
  EXPECT_TRUE(model.enabled());
  EXPECT_EQ(model.input_price_per_million(), 2.5);
}

TEST_F(AdminServiceTest, CreateModelRejectsEachInvalidField) {
  v1::Connection connection = MakeConnection("c1");
  struct Case {
    std::function<void(v1::Model&)> mutate;
    std::string message_start;
  };
  const std::vector<Case> cases = {
      {[](auto& m) { m.set_name(""); }, "model.name"},
      {[](auto& m) { m.set_name("has space"); }, "model.name"},
      {[](auto& m) { m.set_remote_model(""); }, "model.remote_model"},
      {[](auto& m) { m.set_connection_id(""); }, "model.connection_id"},
      {[](auto& m) { m.set_connection_id("cn_xyz"); }, "model.connection_id"},
      {[](auto& m) { m.set_input_price_per_million(-0.01); },
       "model.input_price_per_million"},
      {[](auto& m) { m.set_output_price_per_million(-1); },
       "model.output_price_per_million"},
      {[](auto& m) { m.set_weight(-1); }, "model.weight"},
      {[](auto& m) { m.set_priority(-1); }, "model.priority"},
  };
  for (const Case& test_case : cases) {
    SCOPED_TRACE(test_case.message_start);
    v1::CreateModelRequest request;
    request.mutable_model()->set_name("m");
    request.mutable_model()->set_remote_model("r");
    request.mutable_model()->set_connection_id(connection.id());
    test_case.mutate(*request.mutable_model());
    v1::Model response;
    grpc::Status status = admin_->CreateModel(Ctx().get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), StartsWith(test_case.message_start));
  }
}

TEST_F(AdminServiceTest, CreateModelOnUnknownConnectionIsNotFound) {
  v1::CreateModelRequest request;
  request.mutable_model()->set_name("m");
  request.mutable_model()->set_remote_model("r");
  request.mutable_model()->set_connection_id("cn_0123456789ab");
  v1::Model response;
  EXPECT_EQ(admin_->CreateModel(Ctx().get(), request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(AdminServiceTest, CreateModelRefusesTheSameDeploymentTwice) {
  v1::Connection connection = MakeConnection("c1");
  MakeModel(connection.id(), "alias", "remote");
  v1::CreateModelRequest request;
  request.mutable_model()->set_name("alias");
  request.mutable_model()->set_remote_model("remote");
  request.mutable_model()->set_connection_id(connection.id());
  v1::Model response;
  EXPECT_EQ(admin_->CreateModel(Ctx().get(), request, &response).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(AdminServiceTest, UpdateModelChangesPricesOnly) {
  v1::Connection connection = MakeConnection("c1");
  v1::Model model = MakeModel(connection.id());
  v1::UpdateModelRequest request;
  request.mutable_model()->set_id(model.id());
  request.mutable_model()->set_input_price_per_million(1);
  request.mutable_model()->set_output_price_per_million(4);
  request.mutable_update_mask()->add_paths("input_price_per_million");
  request.mutable_update_mask()->add_paths("output_price_per_million");
  v1::Model updated;
  ASSERT_TRUE(admin_->UpdateModel(Ctx().get(), request, &updated).ok());
  EXPECT_EQ(updated.input_price_per_million(), 1);
  EXPECT_EQ(updated.output_price_per_million(), 4);
  EXPECT_EQ(updated.name(), model.name());
  EXPECT_TRUE(updated.enabled());
}

TEST_F(AdminServiceTest, UpdateModelCanDisable) {
  v1::Connection connection = MakeConnection("c1");
  v1::Model model = MakeModel(connection.id());
  v1::UpdateModelRequest request;
  request.mutable_model()->set_id(model.id());
  request.mutable_model()->set_enabled(false);
  request.mutable_update_mask()->add_paths("enabled");
  v1::Model updated;
  ASSERT_TRUE(admin_->UpdateModel(Ctx().get(), request, &updated).ok());
  EXPECT_FALSE(updated.enabled());
}

TEST_F(AdminServiceTest, DeleteModelInUseNeedsForce) {
  v1::Connection connection = MakeConnection("c1");
  v1::Model model = MakeModel(connection.id());
  v1::VirtualKey key = MakeVirtualKey("team-a");
  v1::Assignment assignment = MakeAssignment(key.id(), model.id());
  v1::DeleteModelRequest request;
  request.set_id(model.id());
  v1::DeleteModelResponse response;
  EXPECT_EQ(admin_->DeleteModel(Ctx().get(), request, &response).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  request.set_force(true);
  ASSERT_TRUE(admin_->DeleteModel(Ctx().get(), request, &response).ok());
  v1::GetAssignmentRequest get;
  get.set_id(assignment.id());
  v1::Assignment gone;
  EXPECT_EQ(admin_->GetAssignment(Ctx().get(), get, &gone).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// --------------------------------------------------------------- virtual key

TEST_F(AdminServiceTest, CreateVirtualKeyGeneratesAKeyAndShowsItOnce) {
  v1::VirtualKey created = MakeVirtualKey("team-a");
  EXPECT_THAT(created.id(), StartsWith("vk_"));
  ASSERT_EQ(created.key().size(), 6u + 48u);
  EXPECT_THAT(created.key(), StartsWith("sk-lp-"));
  for (char c : created.key().substr(6)) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << c;
  }
  EXPECT_EQ(created.key_prefix(), created.key().substr(0, 10) + "…");
  EXPECT_EQ(created.key_sha256(), "");
  EXPECT_TRUE(created.enabled());

  v1::GetVirtualKeyRequest get;
  get.set_id(created.id());
  v1::VirtualKey fetched;
  ASSERT_TRUE(admin_->GetVirtualKey(Ctx().get(), get, &fetched).ok());
  EXPECT_EQ(fetched.key(), "");
  EXPECT_EQ(fetched.key_sha256(), "");
  EXPECT_EQ(fetched.key_prefix(), created.key_prefix());
  v1::ListVirtualKeysResponse list;
  ASSERT_TRUE(
      admin_->ListVirtualKeys(Ctx().get(), v1::ListVirtualKeysRequest(), &list)
          .ok());
  EXPECT_THAT(list.DebugString(),
              ::testing::Not(HasSubstr(created.key().substr(10))));
}

TEST_F(AdminServiceTest, CreateVirtualKeyTakesASuppliedKey) {
  v1::CreateVirtualKeyRequest request;
  request.mutable_virtual_key()->set_name("team-b");
  request.mutable_virtual_key()->set_key("my-own-key-0123456789abc");
  v1::VirtualKey created;
  ASSERT_TRUE(admin_->CreateVirtualKey(Ctx().get(), request, &created).ok());
  EXPECT_EQ(created.key(), "my-own-key-0123456789abc");
  EXPECT_EQ(created.key_prefix(), "my-own-key…");

  // The same key under another name is taken.
  request.mutable_virtual_key()->set_name("team-c");
  EXPECT_EQ(
      admin_->CreateVirtualKey(Ctx().get(), request, &created).error_code(),
      grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(AdminServiceTest, CreateVirtualKeyRefusesATakenName) {
  MakeVirtualKey("team-a");
  v1::CreateVirtualKeyRequest request;
  request.mutable_virtual_key()->set_name("team-a");
  v1::VirtualKey created;
  EXPECT_EQ(
      admin_->CreateVirtualKey(Ctx().get(), request, &created).error_code(),
      grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(AdminServiceTest, CreateVirtualKeyRejectsEachInvalidField) {
  struct Case {
    std::function<void(v1::VirtualKey&)> mutate;
    std::string message_start;
  };
  const std::vector<Case> cases = {
      {[](auto& k) { k.set_name(""); }, "virtual_key.name"},
      {[](auto& k) { k.set_key("short-key-19-chars!"); }, "virtual_key.key"},
      {[](auto& k) { k.set_key("a key with spaces in it"); },
       "virtual_key.key"},
      {[](auto& k) { k.mutable_limits()->set_requests_per_second(-1); },
       "virtual_key.limits.requests_per_second"},
      {[](auto& k) { k.mutable_limits()->set_tokens_per_minute(-1); },
       "virtual_key.limits.tokens_per_minute"},
      {[](auto& k) { k.mutable_limits()->set_max_concurrent(-1); },
       "virtual_key.limits.max_concurrent"},
      {[](auto& k) { k.mutable_limits()->set_budget_usd(-5); },
       "virtual_key.limits.budget_usd"},
      {[](auto& k) { k.mutable_limits()->set_budget_period("year"); },
       "virtual_key.limits.budget_period"},
      {[](auto& k) { k.mutable_expire_time()->set_nanos(-1); },
       "virtual_key.expire_time"},
  };
  for (const Case& test_case : cases) {
    SCOPED_TRACE(test_case.message_start);
    v1::CreateVirtualKeyRequest request;
    request.mutable_virtual_key()->set_name("k");
    test_case.mutate(*request.mutable_virtual_key());
    v1::VirtualKey response;
    grpc::Status status =
        admin_->CreateVirtualKey(Ctx().get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), StartsWith(test_case.message_start));
  }
}

TEST_F(AdminServiceTest, UpdateVirtualKeyTakesALimitsSubPath) {
  v1::CreateVirtualKeyRequest create;
  create.mutable_virtual_key()->set_name("team-a");
  create.mutable_virtual_key()->mutable_limits()->set_requests_per_second(5);
  v1::VirtualKey key;
  ASSERT_TRUE(admin_->CreateVirtualKey(Ctx().get(), create, &key).ok());

  v1::UpdateVirtualKeyRequest request;
  request.mutable_virtual_key()->set_id(key.id());
  request.mutable_virtual_key()->mutable_limits()->set_budget_usd(20);
  request.mutable_update_mask()->add_paths("limits.budget_usd");
  v1::VirtualKey updated;
  grpc::Status status =
      admin_->UpdateVirtualKey(Ctx().get(), request, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(updated.limits().budget_usd(), 20);
  EXPECT_EQ(updated.limits().requests_per_second(), 5);
  EXPECT_EQ(updated.key(), "");
}

TEST_F(AdminServiceTest, UpdateVirtualKeyCannotChangeTheKey) {
  v1::VirtualKey key = MakeVirtualKey("team-a");
  v1::UpdateVirtualKeyRequest request;
  request.mutable_virtual_key()->set_id(key.id());
  request.mutable_virtual_key()->set_key("another-key-0123456789");
  request.mutable_update_mask()->add_paths("key");
  v1::VirtualKey updated;
  grpc::Status status =
      admin_->UpdateVirtualKey(Ctx().get(), request, &updated);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("\"key\""));
}

TEST_F(AdminServiceTest, DeleteVirtualKeyDeletesItsAssignments) {
  v1::Connection connection = MakeConnection("c1");
  v1::Model model = MakeModel(connection.id());
  v1::VirtualKey key = MakeVirtualKey("team-a");
  v1::Assignment assignment = MakeAssignment(key.id(), model.id());
  v1::DeleteVirtualKeyRequest request;
  request.set_id(key.id());
  v1::DeleteVirtualKeyResponse response;
  ASSERT_TRUE(admin_->DeleteVirtualKey(Ctx().get(), request, &response).ok());
  v1::GetAssignmentRequest get;
  get.set_id(assignment.id());
  v1::Assignment gone;
  EXPECT_EQ(admin_->GetAssignment(Ctx().get(), get, &gone).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(
      admin_->DeleteVirtualKey(Ctx().get(), request, &response).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

// --------------------------------------------------------------- assignment

TEST_F(AdminServiceTest, CreateAssignmentNeedsExactlyOneTarget) {
  v1::VirtualKey key = MakeVirtualKey("team-a");
  v1::CreateAssignmentRequest request;
  request.mutable_assignment()->set_virtual_key_id(key.id());
  v1::Assignment response;
  grpc::Status status =
      admin_->CreateAssignment(Ctx().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), StartsWith("assignment.target"));
}

TEST_F(AdminServiceTest, CreateAssignmentRejectsBadIdsAndLimits) {
  struct Case {
    std::function<void(v1::Assignment&)> mutate;
    std::string message_start;
  };
  const std::vector<Case> cases = {
      {[](auto& a) { a.set_virtual_key_id(""); }, "assignment.virtual_key_id"},
      {[](auto& a) { a.set_model_id("cn_0123456789ab"); },
       "assignment.model_id"},
      {[](auto& a) { a.set_connection_id("bad"); }, "assignment.connection_id"},
      {[](auto& a) { a.mutable_limits()->set_request_burst(-1); },
       "assignment.limits.request_burst"},
  };
  for (const Case& test_case : cases) {
    SCOPED_TRACE(test_case.message_start);
    v1::CreateAssignmentRequest request;
    request.mutable_assignment()->set_virtual_key_id("vk_0123456789ab");
    request.mutable_assignment()->set_model_id("md_0123456789ab");
    test_case.mutate(*request.mutable_assignment());
    v1::Assignment response;
    grpc::Status status =
        admin_->CreateAssignment(Ctx().get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), StartsWith(test_case.message_start));
  }
}

TEST_F(AdminServiceTest, CreateAssignmentToMissingKeyOrTargetIsNotFound) {
  v1::Connection connection = MakeConnection("c1");
  v1::VirtualKey key = MakeVirtualKey("team-a");
  v1::CreateAssignmentRequest request;
  request.mutable_assignment()->set_virtual_key_id(key.id());
  request.mutable_assignment()->set_model_id("md_0123456789ab");
  v1::Assignment response;
  EXPECT_EQ(
      admin_->CreateAssignment(Ctx().get(), request, &response).error_code(),
      grpc::StatusCode::NOT_FOUND);
  request.mutable_assignment()->set_virtual_key_id("vk_0123456789ab");
  request.mutable_assignment()->set_connection_id(connection.id());
  EXPECT_EQ(
      admin_->CreateAssignment(Ctx().get(), request, &response).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(AdminServiceTest, AssignmentLifecycle) {
  v1::Connection connection = MakeConnection("c1");
  v1::VirtualKey key_a = MakeVirtualKey("team-a");
  v1::VirtualKey key_b = MakeVirtualKey("team-b");
  v1::CreateAssignmentRequest create;
  create.mutable_assignment()->set_virtual_key_id(key_a.id());
  create.mutable_assignment()->set_connection_id(connection.id());
  create.mutable_assignment()->mutable_limits()->set_tokens_per_minute(1000);
  v1::Assignment assignment;
  ASSERT_TRUE(admin_->CreateAssignment(Ctx().get(), create, &assignment).ok());
  EXPECT_THAT(assignment.id(), StartsWith("as_"));
  EXPECT_EQ(assignment.connection_id(), connection.id());
  // The same key to the same target again.
  v1::Assignment duplicate;
  EXPECT_EQ(
      admin_->CreateAssignment(Ctx().get(), create, &duplicate).error_code(),
      grpc::StatusCode::ALREADY_EXISTS);
  create.mutable_assignment()->set_virtual_key_id(key_b.id());
  ASSERT_TRUE(admin_->CreateAssignment(Ctx().get(), create, &duplicate).ok());

  v1::ListAssignmentsRequest list_request;
  list_request.set_virtual_key_id(key_a.id());
  v1::ListAssignmentsResponse list;
  ASSERT_TRUE(admin_->ListAssignments(Ctx().get(), list_request, &list).ok());
  ASSERT_EQ(list.assignments_size(), 1);
  EXPECT_EQ(list.assignments(0).id(), assignment.id());

  v1::UpdateAssignmentRequest update;
  update.mutable_assignment()->set_id(assignment.id());
  update.mutable_assignment()->mutable_limits()->set_max_concurrent(3);
  update.mutable_update_mask()->add_paths("limits.max_concurrent");
  v1::Assignment updated;
  ASSERT_TRUE(admin_->UpdateAssignment(Ctx().get(), update, &updated).ok());
  EXPECT_EQ(updated.limits().max_concurrent(), 3);
  EXPECT_EQ(updated.limits().tokens_per_minute(), 1000);
  EXPECT_EQ(updated.connection_id(), connection.id());

  v1::DeleteAssignmentRequest remove;
  remove.set_id(assignment.id());
  remove.set_etag(assignment.etag());  // Stale since the update.
  v1::DeleteAssignmentResponse removed;
  EXPECT_EQ(
      admin_->DeleteAssignment(Ctx().get(), remove, &removed).error_code(),
      grpc::StatusCode::ABORTED);
  remove.set_etag(updated.etag());
  EXPECT_TRUE(admin_->DeleteAssignment(Ctx().get(), remove, &removed).ok());
}

TEST_F(AdminServiceTest, UpdateAssignmentCannotMoveItsTarget) {
  v1::Connection connection = MakeConnection("c1");
  v1::Model model = MakeModel(connection.id());
  v1::VirtualKey key = MakeVirtualKey("team-a");
  v1::Assignment assignment = MakeAssignment(key.id(), model.id());
  v1::UpdateAssignmentRequest update;
  update.mutable_assignment()->set_id(assignment.id());
  update.mutable_assignment()->set_connection_id(connection.id());
  update.mutable_update_mask()->add_paths("connection_id");
  v1::Assignment updated;
  EXPECT_EQ(
      admin_->UpdateAssignment(Ctx().get(), update, &updated).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
}

// ------------------------------------------------------------------ revision

TEST_F(AdminServiceTest, EveryMutationMovesTheConfigRevision) {
  v1::GetConfigRevisionResponse before;
  ASSERT_TRUE(admin_
                  ->GetConfigRevision(Ctx().get(),
                                      v1::GetConfigRevisionRequest(), &before)
                  .ok());
  v1::Connection connection = MakeConnection("c1");
  v1::GetConfigRevisionResponse after;
  ASSERT_TRUE(admin_
                  ->GetConfigRevision(Ctx().get(),
                                      v1::GetConfigRevisionRequest(), &after)
                  .ok());
  EXPECT_GT(after.revision(), before.revision());
  EXPECT_EQ(std::to_string(after.revision()), connection.etag());
}

TEST_F(AdminServiceTest, ListDataPlanesIsEmptyAtFirst) {
  v1::ListDataPlanesResponse response;
  ASSERT_TRUE(
      admin_
          ->ListDataPlanes(Ctx().get(), v1::ListDataPlanesRequest(), &response)
          .ok());
  EXPECT_EQ(response.data_planes_size(), 0);
}

}  // namespace
}  // namespace llmproxy::controlplane
