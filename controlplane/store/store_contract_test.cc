// The Store contract (store.h), run against every backend: SQLite in a temp
// file and PostgreSQL in a fresh database per test (server from the CTest
// fixture `postgres`, URL in the file named by LLMPROXY_TEST_PG_URL_FILE).

#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/random.h"
#include "controlplane/store/store.h"

namespace llmproxy::controlplane {
namespace {

using google::protobuf::util::MessageDifferencer;
using google::protobuf::util::TimeUtil;

constexpr int64_t kHourMicros = 3600LL * 1000000;
constexpr int64_t kDayMicros = 24 * kHourMicros;
// 2024-01-01T00:00:00Z, a day boundary.
constexpr int64_t kDay0Micros = 1704067200LL * 1000000;

std::string PostgresServerUrl() {
  const char* file = std::getenv("LLMPROXY_TEST_PG_URL_FILE");
  if (file == nullptr || *file == '\0') return "";
  std::ifstream in(file);
  std::string url;
  std::getline(in, url);
  return url;
}

// postgresql://user@host:port/db -> same server, another database.
std::string WithDatabase(const std::string& url, const std::string& db) {
  return url.substr(0, url.rfind('/') + 1) + db;
}

class StoreContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() /
             absl::StrCat("llmproxy-store-test-", RandomHex(6));
      // A missing parent directory is created by the store.
      url_ = absl::StrCat("sqlite://", (dir_ / "nested" / "store.db").string());
    } else {
      server_url_ = PostgresServerUrl();
      ASSERT_FALSE(server_url_.empty())
          << "LLMPROXY_TEST_PG_URL_FILE must name a file holding a "
             "postgresql:// URL (run through ctest: fixture `postgres`)";
      database_ = absl::StrCat("store_test_", RandomHex(6));
      pqxx::connection admin(server_url_);
      pqxx::nontransaction(admin).exec0("CREATE DATABASE " + database_);
      url_ = WithDatabase(server_url_, database_);
    }
    store_ = Open();
  }

  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    if (!database_.empty()) {
      pqxx::connection admin(server_url_);
      pqxx::nontransaction(admin).exec0("DROP DATABASE IF EXISTS " + database_ +
                                        " WITH (FORCE)");
    }
  }

  StorePtr Open() {
    absl::StatusOr<StorePtr> store = OpenStore(url_);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return nullptr;
    absl::Status migrated = (*store)->Migrate();
    EXPECT_TRUE(migrated.ok()) << migrated;
    return *std::move(store);
  }

  v1::Connection MakeConnection(const std::string& name) {
    v1::Connection c;
    c.set_name(name);
    c.set_provider("openai");
    c.set_endpoint("https://api.openai.com/v1");
    c.set_api_key("v1:sealed-" + name);
    c.set_api_key_masked("sk-…abcd");
    c.set_api_version("2024-06-01");
    c.set_region("us-east-1");
    (*c.mutable_extra_headers())["x-team"] = "core";
    c.set_timeout_ms(30000);
    return c;
  }

  v1::Connection AddConnection(const std::string& name) {
    absl::StatusOr<v1::Connection> c =
        store_->CreateConnection(MakeConnection(name));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : v1::Connection();
  }

  v1::Model AddModel(const std::string& name, const std::string& connection_id,
                     const std::string& remote = "gpt-4o-mini") {
    v1::Model m;
    m.set_name(name);
    m.set_remote_model(remote);
    m.set_connection_id(connection_id);
    m.set_input_price_per_million(0.15);
    m.set_output_price_per_million(0.6);
    m.set_weight(2);
    m.set_priority(1);
    absl::StatusOr<v1::Model> created = store_->CreateModel(m);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Model();
  }

  v1::VirtualKey MakeKey(const std::string& name) {
    v1::VirtualKey k;
    k.set_name(name);
    k.set_key_sha256("sha-" + name);
    k.set_key_prefix("sk-lp-abcd…");
    return k;
  }

  v1::VirtualKey AddKey(const std::string& name) {
    absl::StatusOr<v1::VirtualKey> k = store_->CreateVirtualKey(MakeKey(name));
    EXPECT_TRUE(k.ok()) << k.status();
    return k.ok() ? *k : v1::VirtualKey();
  }

  v1::Assignment AddAssignment(const std::string& key_id,
                               const std::string& connection_id,
                               const std::string& model_id) {
    v1::Assignment a;
    a.set_virtual_key_id(key_id);
    if (!connection_id.empty()) a.set_connection_id(connection_id);
    if (!model_id.empty()) a.set_model_id(model_id);
    a.mutable_limits()->set_requests_per_second(5);
    absl::StatusOr<v1::Assignment> created = store_->CreateAssignment(a);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Assignment();
  }

  int64_t Revision() {
    absl::StatusOr<int64_t> revision = store_->GetRevision();
    EXPECT_TRUE(revision.ok()) << revision.status();
    return revision.value_or(-1);
  }

  std::vector<ConfigChange> Changes(int64_t since) {
    absl::StatusOr<std::vector<ConfigChange>> changes =
        store_->ListChangesSince(since, 1000);
    EXPECT_TRUE(changes.ok()) << changes.status();
    return changes.value_or(std::vector<ConfigChange>());
  }

  static v1::UsageRecord Usage(const std::string& request_id,
                               const std::string& key, const std::string& model,
                               int64_t start_micros, double cost = 0.5,
                               const std::string& status = "ok") {
    v1::UsageRecord r;
    r.set_request_id(request_id);
    r.set_virtual_key_id(key);
    r.set_model(model);
    r.set_remote_model("remote-" + model);
    r.set_connection_id("cn_" + model);
    r.set_assignment_id("as_" + key);
    r.set_dataplane_id("dp-1");
    r.set_prompt_tokens(10);
    r.set_completion_tokens(20);
    r.set_cached_tokens(1);
    r.set_cost_usd(cost);
    r.set_http_status(status == "ok" ? 200 : 429);
    r.set_status(status);
    r.set_latency_ms(12.5);
    r.set_ttft_ms(3.25);
    *r.mutable_start_time() = TimeUtil::MicrosecondsToTimestamp(start_micros);
    r.set_streamed(true);
    r.set_endpoint("/v1/chat/completions");
    return r;
  }

  std::filesystem::path dir_;
  std::string server_url_;
  std::string database_;
  std::string url_;
  StorePtr store_;
};

bool IsId(const std::string& id, const std::string& prefix) {
  if (id.size() != prefix.size() + 12 || id.rfind(prefix, 0) != 0) {
    return false;
  }
  return id.find_first_not_of("0123456789abcdef", prefix.size()) ==
         std::string::npos;
}

// ---- Migrations and persistence ----

TEST_P(StoreContractTest, FreshDatabaseIsAtRevisionZero) {
  EXPECT_EQ(Revision(), 0);
  EXPECT_TRUE(Changes(0).empty());
}

TEST_P(StoreContractTest, MigrateIsIdempotentAndSurvivesReopen) {
  AddConnection("openai");
  ASSERT_TRUE(store_->Migrate().ok());
  store_ = Open();
  ASSERT_NE(store_, nullptr);
  ASSERT_TRUE(store_->Migrate().ok());
  EXPECT_EQ(Revision(), 1);
}

TEST_P(StoreContractTest, ConcurrentMigrationsAllSucceed) {
  // Several control planes starting at once on an empty database.
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      absl::StatusOr<StorePtr> store = OpenStore(url_);
      if (!store.ok() || !(*store)->Migrate().ok()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_P(StoreContractTest, EverythingPersistsAcrossReopen) {
  v1::Connection c = AddConnection("openai");
  v1::Model m = AddModel("gpt", c.id());
  v1::VirtualKey k = AddKey("team-a");
  v1::Assignment a = AddAssignment(k.id(), "", m.id());
  ASSERT_TRUE(
      store_->InsertUsage({Usage("r1", k.id(), "gpt", kDay0Micros)}).ok());
  v1::DataPlane dp;
  dp.set_node_id("node-1");
  ASSERT_TRUE(store_->UpsertDataPlane(dp).ok());
  absl::StatusOr<v1::ConfigSnapshot> before = store_->LoadSnapshot();
  ASSERT_TRUE(before.ok()) << before.status();

  store_ = Open();
  ASSERT_NE(store_, nullptr);

  absl::StatusOr<v1::ConfigSnapshot> after = store_->LoadSnapshot();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*before, *after))
      << before->DebugString() << "\nvs\n"
      << after->DebugString();
  EXPECT_EQ(after->revision(), 4);
  EXPECT_EQ(store_->InsertUsage({Usage("r1", k.id(), "gpt", kDay0Micros)})
                ->duplicates,
            1);
  EXPECT_EQ(store_->ListDataPlanes()->size(), 1u);
}

// ---- CRUD of each kind ----

TEST_P(StoreContractTest, CreateConnectionAssignsIdEtagAndTimes) {
  v1::Connection created = AddConnection("openai");
  EXPECT_TRUE(IsId(created.id(), "cn_")) << created.id();
  EXPECT_EQ(created.etag(), "1");
  EXPECT_TRUE(created.enabled()) << "enabled defaults to true";
  EXPECT_GT(created.create_time().seconds(), 0);
  EXPECT_TRUE(
      MessageDifferencer::Equals(created.create_time(), created.update_time()));

  absl::StatusOr<v1::Connection> got = store_->GetConnection(created.id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MessageDifferencer::Equals(created, *got))
      << created.DebugString() << "\nvs\n"
      << got->DebugString();
  EXPECT_EQ(got->api_key(), "v1:sealed-openai") << "sealed key kept as given";
  EXPECT_EQ(got->extra_headers().at("x-team"), "core");
}

TEST_P(StoreContractTest, CreateKeepsExplicitlyDisabled) {
  v1::Connection c = MakeConnection("off");
  c.set_enabled(false);
  absl::StatusOr<v1::Connection> created = store_->CreateConnection(c);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(store_->GetConnection(created->id())->enabled());
}

TEST_P(StoreContractTest, UpdateConnectionReplacesFieldsAndKeepsSealedKey) {
  v1::Connection c = AddConnection("openai");
  v1::Connection change = c;
  change.set_name("openai-eu");
  change.set_endpoint("https://eu.example.com/v1");
  change.clear_api_key();  // Not changing the key.
  change.clear_api_key_masked();
  change.clear_extra_headers();
  change.set_enabled(false);
  absl::StatusOr<v1::Connection> updated =
      store_->UpdateConnection(change, c.etag());
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->name(), "openai-eu");
  EXPECT_EQ(updated->endpoint(), "https://eu.example.com/v1");
  EXPECT_EQ(updated->api_key(), "v1:sealed-openai");
  EXPECT_EQ(updated->api_key_masked(), "sk-…abcd");
  EXPECT_TRUE(updated->extra_headers().empty());
  EXPECT_FALSE(updated->enabled());
  EXPECT_EQ(updated->etag(), "2");
  EXPECT_TRUE(
      MessageDifferencer::Equals(updated->create_time(), c.create_time()));

  change.set_api_key("v1:new-sealed");
  updated = store_->UpdateConnection(change, "");
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->api_key(), "v1:new-sealed");
}

TEST_P(StoreContractTest, ModelRoundTripsAndUpdates) {
  v1::Connection c = AddConnection("openai");
  v1::Model m = AddModel("gpt", c.id());
  EXPECT_TRUE(IsId(m.id(), "md_")) << m.id();
  EXPECT_EQ(m.etag(), "2");
  absl::StatusOr<v1::Model> got = store_->GetModel(m.id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MessageDifferencer::Equals(m, *got)) << got->DebugString();
  EXPECT_DOUBLE_EQ(got->input_price_per_million(), 0.15);

  v1::Model change = m;
  change.set_remote_model("gpt-4o");
  change.set_output_price_per_million(10.0 / 3);
  absl::StatusOr<v1::Model> updated = store_->UpdateModel(change, m.etag());
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->remote_model(), "gpt-4o");
  EXPECT_DOUBLE_EQ(updated->output_price_per_million(), 10.0 / 3)
      << "doubles survive the round trip exactly";
  EXPECT_EQ(updated->etag(), "3");
}

TEST_P(StoreContractTest, VirtualKeyStoresHashNeverTheKey) {
  v1::VirtualKey k = MakeKey("team-a");
  k.set_key("sk-lp-plaintext");
  (*k.mutable_metadata())["owner"] = "alice";
  k.mutable_limits()->set_tokens_per_minute(1000);
  k.mutable_limits()->set_budget_usd(12.5);
  k.mutable_limits()->set_budget_period("week");
  *k.mutable_expire_time() = TimeUtil::MicrosecondsToTimestamp(kDay0Micros);
  absl::StatusOr<v1::VirtualKey> created = store_->CreateVirtualKey(k);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(IsId(created->id(), "vk_")) << created->id();
  EXPECT_TRUE(created->key().empty());

  absl::StatusOr<v1::VirtualKey> got = store_->GetVirtualKey(created->id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*created, *got))
      << created->DebugString() << "\nvs\n"
      << got->DebugString();
  EXPECT_TRUE(got->key().empty());
  EXPECT_EQ(got->key_sha256(), "sha-team-a");
  EXPECT_EQ(got->metadata().at("owner"), "alice");
  EXPECT_EQ(got->limits().tokens_per_minute(), 1000);
  EXPECT_EQ(got->limits().budget_period(), "week");
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(got->expire_time()), kDay0Micros);
}

TEST_P(StoreContractTest, UpdateVirtualKeyKeepsHashAndCanClearFields) {
  v1::VirtualKey k = AddKey("team-a");
  v1::VirtualKey change = k;
  change.clear_key_sha256();
  change.clear_key_prefix();
  change.set_name("team-b");
  change.mutable_limits()->set_max_concurrent(3);
  absl::StatusOr<v1::VirtualKey> updated =
      store_->UpdateVirtualKey(change, k.etag());
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->name(), "team-b");
  EXPECT_EQ(updated->key_sha256(), "sha-team-a");
  EXPECT_EQ(updated->key_prefix(), "sk-lp-abcd…");
  EXPECT_EQ(updated->limits().max_concurrent(), 3);

  change.clear_limits();
  updated = store_->UpdateVirtualKey(change, updated->etag());
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_FALSE(updated->has_limits());
}

TEST_P(StoreContractTest, AssignmentKeepsItsOneTargetAndLimits) {
  v1::Connection c = AddConnection("openai");
  v1::Model m = AddModel("gpt", c.id());
  v1::VirtualKey k = AddKey("team-a");
  v1::Assignment to_connection = AddAssignment(k.id(), c.id(), "");
  v1::Assignment to_model = AddAssignment(k.id(), "", m.id());
  EXPECT_TRUE(IsId(to_connection.id(), "as_")) << to_connection.id();

  absl::StatusOr<v1::Assignment> got =
      store_->GetAssignment(to_connection.id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->target_case(), v1::Assignment::kConnectionId);
  EXPECT_TRUE(MessageDifferencer::Equals(to_connection, *got));
  got = store_->GetAssignment(to_model.id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->target_case(), v1::Assignment::kModelId);
  EXPECT_EQ(got->model_id(), m.id());
  EXPECT_DOUBLE_EQ(got->limits().requests_per_second(), 5);

  v1::Assignment change = to_model;
  change.mutable_limits()->set_budget_usd(1.25);
  absl::StatusOr<v1::Assignment> updated =
      store_->UpdateAssignment(change, to_model.etag());
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_DOUBLE_EQ(updated->limits().budget_usd(), 1.25);

  absl::StatusOr<int64_t> deleted =
      store_->DeleteAssignment(to_model.id(), updated->etag());
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(store_->GetAssignment(to_model.id()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(StoreContractTest, ListAssignmentsFiltersByVirtualKey) {
  v1::Connection c = AddConnection("openai");
  v1::VirtualKey a = AddKey("a");
  v1::VirtualKey b = AddKey("b");
  v1::Assignment of_a = AddAssignment(a.id(), c.id(), "");
  AddAssignment(b.id(), c.id(), "");
  absl::StatusOr<Page<v1::Assignment>> page =
      store_->ListAssignments(PageRequest(), a.id());
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id(), of_a.id());
  EXPECT_EQ(store_->ListAssignments(PageRequest(), "")->items.size(), 2u);
}

// ---- Revision, etag and change log ----

TEST_P(StoreContractTest, EveryMutationBumpsRevisionAndEtagIsItsRevision) {
  v1::Connection c = AddConnection("openai");
  v1::Model m = AddModel("gpt", c.id());
  v1::VirtualKey k = AddKey("team-a");
  v1::Assignment a = AddAssignment(k.id(), c.id(), "");
  EXPECT_EQ(c.etag(), "1");
  EXPECT_EQ(m.etag(), "2");
  EXPECT_EQ(k.etag(), "3");
  EXPECT_EQ(a.etag(), "4");
  absl::StatusOr<v1::Connection> updated = store_->UpdateConnection(c, "1");
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->etag(), "5");
  EXPECT_EQ(store_->GetConnection(c.id())->etag(), "5");
  EXPECT_EQ(store_->DeleteAssignment(a.id(), "").value_or(0), 6);
  EXPECT_EQ(Revision(), 6);
}

TEST_P(StoreContractTest, ChangeLogListsEveryChangeInOrder) {
  v1::Connection c = AddConnection("openai");
  v1::Model m = AddModel("gpt", c.id());
  ASSERT_TRUE(store_->UpdateModel(m, "").ok());
  ASSERT_TRUE(store_->DeleteModel(m.id(), "", false).ok());

  std::vector<ConfigChange> changes = Changes(0);
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0].revision, 1);
  EXPECT_EQ(changes[0].kind, "connection");
  EXPECT_EQ(changes[0].id, c.id());
  EXPECT_FALSE(changes[0].deleted);
  EXPECT_EQ(changes[1].revision, 2);
  EXPECT_EQ(changes[1].kind, "model");
  EXPECT_EQ(changes[2].revision, 3);
  EXPECT_EQ(changes[2].id, m.id());
  EXPECT_FALSE(changes[2].deleted);
  EXPECT_EQ(changes[3].revision, 4);
  EXPECT_EQ(changes[3].id, m.id());
  EXPECT_TRUE(changes[3].deleted);

  std::vector<ConfigChange> since_two = Changes(2);
  ASSERT_EQ(since_two.size(), 2u);
  EXPECT_EQ(since_two[0].revision, 3);
  absl::StatusOr<std::vector<ConfigChange>> limited =
      store_->ListChangesSince(0, 1);
  ASSERT_TRUE(limited.ok()) << limited.status();
  ASSERT_EQ(limited->size(), 1u);
  EXPECT_EQ((*limited)[0].revision, 1);
}

// ---- Refusals ----

TEST_P(StoreContractTest, DuplicateConnectionNameIsAlreadyExists) {
  AddConnection("openai");
  v1::Connection other = AddConnection("other");
  EXPECT_EQ(store_->CreateConnection(MakeConnection("openai")).status().code(),
            absl::StatusCode::kAlreadyExists);
  other.set_name("openai");
  EXPECT_EQ(store_->UpdateConnection(other, "").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Revision(), 2) << "a refused mutation leaves no revision behind";
  EXPECT_EQ(Changes(0).size(), 2u);
}

TEST_P(StoreContractTest, DuplicateDeploymentIsAlreadyExists) {
  v1::Connection c = AddConnection("openai");
  v1::Connection c2 = AddConnection("azure");
  AddModel("gpt", c.id(), "gpt-4o");
  v1::Model again;
  again.set_name("gpt");
  again.set_remote_model("gpt-4o");
  again.set_connection_id(c.id());
  EXPECT_EQ(store_->CreateModel(again).status().code(),
            absl::StatusCode::kAlreadyExists);
  // Other deployments of the same alias are fine.
  AddModel("gpt", c2.id(), "gpt-4o");
  AddModel("gpt", c.id(), "gpt-4o-mini");
  EXPECT_EQ(store_->ListModels(PageRequest())->items.size(), 3u);
}

TEST_P(StoreContractTest, DuplicateVirtualKeyNameOrKeyIsAlreadyExists) {
  AddKey("team-a");
  v1::VirtualKey same_name = MakeKey("team-a");
  same_name.set_key_sha256("other-hash");
  EXPECT_EQ(store_->CreateVirtualKey(same_name).status().code(),
            absl::StatusCode::kAlreadyExists);
  v1::VirtualKey same_key = MakeKey("team-b");
  same_key.set_key_sha256("sha-team-a");
  EXPECT_EQ(store_->CreateVirtualKey(same_key).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_P(StoreContractTest, DuplicateAssignmentIsAlreadyExists) {
  v1::Connection c = AddConnection("openai");
  v1::Model m = AddModel("gpt", c.id());
  v1::VirtualKey k = AddKey("team-a");
  AddAssignment(k.id(), c.id(), "");
  AddAssignment(k.id(), "", m.id());
  v1::Assignment again;
  again.set_virtual_key_id(k.id());
  again.set_connection_id(c.id());
  EXPECT_EQ(store_->CreateAssignment(again).status().code(),
            absl::StatusCode::kAlreadyExists);
  again.set_model_id(m.id());
  EXPECT_EQ(store_->CreateAssignment(again).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_P(StoreContractTest, MissingRowOrReferenceIsNotFound) {
  v1::Connection c = AddConnection("openai");
  v1::VirtualKey k = AddKey("team-a");
  constexpr absl::StatusCode kNotFound = absl::StatusCode::kNotFound;

  EXPECT_EQ(store_->GetConnection("cn_000000000000").status().code(),
            kNotFound);
  EXPECT_EQ(store_->GetModel("md_000000000000").status().code(), kNotFound);
  EXPECT_EQ(store_->GetVirtualKey("vk_000000000000").status().code(),
            kNotFound);
  EXPECT_EQ(store_->GetAssignment("as_000000000000").status().code(),
            kNotFound);

  v1::Model model;
  model.set_name("gpt");
  model.set_connection_id("cn_000000000000");
  EXPECT_EQ(store_->CreateModel(model).status().code(), kNotFound);

  v1::Assignment a;
  a.set_virtual_key_id("vk_000000000000");
  a.set_connection_id(c.id());
  EXPECT_EQ(store_->CreateAssignment(a).status().code(), kNotFound);
  a.set_virtual_key_id(k.id());
  a.set_connection_id("cn_000000000000");
  EXPECT_EQ(store_->CreateAssignment(a).status().code(), kNotFound);
  a.set_model_id("md_000000000000");
  EXPECT_EQ(store_->CreateAssignment(a).status().code(), kNotFound);

  v1::Connection ghost = c;
  ghost.set_id("cn_000000000000");
  EXPECT_EQ(store_->UpdateConnection(ghost, "").status().code(), kNotFound);
  EXPECT_EQ(
      store_->DeleteConnection("cn_000000000000", "", true).status().code(),
      kNotFound);
  EXPECT_EQ(store_->DeleteVirtualKey("vk_000000000000", "").status().code(),
            kNotFound);
  EXPECT_EQ(Revision(), 2);
}

TEST_P(StoreContractTest, StaleEtagIsAborted) {
  v1::Connection c = AddConnection("openai");
  absl::StatusOr<v1::Connection> updated = store_->UpdateConnection(c, "1");
  ASSERT_TRUE(updated.ok()) << updated.status();

  EXPECT_EQ(store_->UpdateConnection(c, "1").status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(store_->DeleteConnection(c.id(), "1", false).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(Revision(), 2);
  EXPECT_TRUE(store_->DeleteConnection(c.id(), updated->etag(), false).ok());
}

TEST_P(StoreContractTest, DeleteOfReferencedRowNeedsForce) {
  v1::Connection c = AddConnection("openai");
  v1::Model m = AddModel("gpt", c.id());
  v1::VirtualKey k = AddKey("team-a");
  AddAssignment(k.id(), "", m.id());

  EXPECT_EQ(store_->DeleteConnection(c.id(), "", false).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->DeleteModel(m.id(), "", false).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Revision(), 4);
  EXPECT_TRUE(store_->GetModel(m.id()).ok());
}

TEST_P(StoreContractTest, ConnectionUsedOnlyByAssignmentNeedsForce) {
  v1::Connection c = AddConnection("openai");
  v1::VirtualKey k = AddKey("team-a");
  AddAssignment(k.id(), c.id(), "");
  EXPECT_EQ(store_->DeleteConnection(c.id(), "", false).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(StoreContractTest, ForceDeleteOfConnectionCascadesAndLogsEveryRow) {
  v1::Connection c = AddConnection("openai");
  v1::Connection other = AddConnection("other");
  v1::Model m = AddModel("gpt", c.id());
  v1::Model kept = AddModel("kept", other.id());
  v1::VirtualKey k = AddKey("team-a");
  v1::Assignment to_conn = AddAssignment(k.id(), c.id(), "");
  v1::Assignment to_model = AddAssignment(k.id(), "", m.id());
  v1::Assignment to_kept = AddAssignment(k.id(), "", kept.id());
  const int64_t before = Revision();

  absl::StatusOr<int64_t> revision = store_->DeleteConnection(c.id(), "", true);
  ASSERT_TRUE(revision.ok()) << revision.status();
  EXPECT_EQ(*revision, before + 1) << "one revision for the whole cascade";

  std::set<std::pair<std::string, std::string>> deleted;
  for (const ConfigChange& change : Changes(before)) {
    EXPECT_EQ(change.revision, *revision);
    EXPECT_TRUE(change.deleted);
    deleted.insert({change.kind, change.id});
  }
  EXPECT_EQ(deleted, (std::set<std::pair<std::string, std::string>>{
                         {"connection", c.id()},
                         {"model", m.id()},
                         {"assignment", to_conn.id()},
                         {"assignment", to_model.id()}}));
  EXPECT_EQ(store_->GetModel(m.id()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetAssignment(to_kept.id()).ok());
  EXPECT_TRUE(store_->GetModel(kept.id()).ok());
}

TEST_P(StoreContractTest, ForceDeleteOfModelDeletesItsAssignments) {
  v1::Connection c = AddConnection("openai");
  v1::Model m = AddModel("gpt", c.id());
  v1::VirtualKey k = AddKey("team-a");
  v1::Assignment a = AddAssignment(k.id(), "", m.id());
  absl::StatusOr<int64_t> revision = store_->DeleteModel(m.id(), "", true);
  ASSERT_TRUE(revision.ok()) << revision.status();
  EXPECT_EQ(store_->GetAssignment(a.id()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Changes(*revision - 1).size(), 2u);
}

TEST_P(StoreContractTest, DeleteVirtualKeyDeletesItsAssignments) {
  v1::Connection c = AddConnection("openai");
  v1::VirtualKey k = AddKey("team-a");
  v1::Assignment a = AddAssignment(k.id(), c.id(), "");
  absl::StatusOr<int64_t> revision = store_->DeleteVirtualKey(k.id(), k.etag());
  ASSERT_TRUE(revision.ok()) << revision.status();
  EXPECT_EQ(store_->GetAssignment(a.id()).status().code(),
            absl::StatusCode::kNotFound);
  std::vector<ConfigChange> changes = Changes(*revision - 1);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_TRUE(changes[0].deleted && changes[1].deleted);
}

// ---- Pagination ----

TEST_P(StoreContractTest, ListPagesThroughEveryRowInIdOrder) {
  std::set<std::string> created;
  for (int i = 0; i < 5; ++i) {
    created.insert(AddConnection(absl::StrCat("c", i)).id());
  }
  std::vector<std::string> seen;
  PageRequest request;
  request.limit = 2;
  std::vector<size_t> page_sizes;
  for (int guard = 0; guard < 10; ++guard) {
    absl::StatusOr<Page<v1::Connection>> page =
        store_->ListConnections(request);
    ASSERT_TRUE(page.ok()) << page.status();
    page_sizes.push_back(page->items.size());
    for (const auto& c : page->items) seen.push_back(c.id());
    if (page->next_after_id.empty()) break;
    EXPECT_EQ(page->next_after_id, page->items.back().id());
    request.after_id = page->next_after_id;
  }
  EXPECT_EQ(page_sizes, (std::vector<size_t>{2, 2, 1}));
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), created);
}

TEST_P(StoreContractTest, ExactlyFullPageHasNoNextPage) {
  AddConnection("a");
  AddConnection("b");
  PageRequest request;
  request.limit = 2;
  absl::StatusOr<Page<v1::Connection>> page = store_->ListConnections(request);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->items.size(), 2u);
  EXPECT_TRUE(page->next_after_id.empty());
}

// ---- Snapshot ----

TEST_P(StoreContractTest, SnapshotHoldsEveryResourceAtTheNewestRevision) {
  v1::Connection c = AddConnection("openai");
  v1::Model m = AddModel("gpt", c.id());
  v1::VirtualKey k = AddKey("team-a");
  v1::Assignment a = AddAssignment(k.id(), "", m.id());
  absl::StatusOr<v1::ConfigSnapshot> snapshot = store_->LoadSnapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->revision(), 4);
  ASSERT_EQ(snapshot->connections_size(), 1);
  EXPECT_TRUE(MessageDifferencer::Equals(snapshot->connections(0), c));
  EXPECT_EQ(snapshot->connections(0).api_key(), "v1:sealed-openai");
  ASSERT_EQ(snapshot->models_size(), 1);
  EXPECT_TRUE(MessageDifferencer::Equals(snapshot->models(0), m));
  ASSERT_EQ(snapshot->virtual_keys_size(), 1);
  EXPECT_EQ(snapshot->virtual_keys(0).key_sha256(), "sha-team-a");
  ASSERT_EQ(snapshot->assignments_size(), 1);
  EXPECT_TRUE(MessageDifferencer::Equals(snapshot->assignments(0), a));
}

TEST_P(StoreContractTest, SnapshotIsConsistentWhileWritersRun) {
  // Each create bumps the revision by one and adds one row, so in any
  // consistent snapshot the row count equals the revision.
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 40; ++i) {
      EXPECT_TRUE(
          store_->CreateConnection(MakeConnection(absl::StrCat("w", i))).ok());
      EXPECT_TRUE(store_->CreateVirtualKey(MakeKey(absl::StrCat("k", i))).ok());
    }
    done = true;
  });
  int snapshots = 0;
  do {
    absl::StatusOr<v1::ConfigSnapshot> s = store_->LoadSnapshot();
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) break;  // Still join the writer below.
    EXPECT_EQ(s->revision(), s->connections_size() + s->virtual_keys_size());
    ++snapshots;
  } while (!done);
  writer.join();
  EXPECT_GT(snapshots, 0);
  EXPECT_EQ(Revision(), 80);
}

TEST_P(StoreContractTest, ConcurrentWritersGetDistinctRevisions) {
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> etags(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        absl::StatusOr<v1::Connection> c = store_->CreateConnection(
            MakeConnection(absl::StrCat("t", t, "-", i)));
        if (c.ok()) etags[t].push_back(c->etag());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& list : etags) all.insert(list.begin(), list.end());
  EXPECT_EQ(all.size(), 40u);
  EXPECT_EQ(Revision(), 40);
}

// Behaviour only the PostgreSQL backend has (connection pool, NOTIFY).
class PostgresStoreTest : public StoreContractTest {};

TEST_P(PostgresStoreTest, RecoversWhenTheServerDropsItsConnections) {
  AddConnection("before");
  {
    // What a server restart or failover does to pooled connections.
    pqxx::connection admin(server_url_);
    pqxx::nontransaction(admin).exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
        "datname = '" +
        database_ + "' AND pid <> pg_backend_pid()");
  }
  absl::StatusOr<v1::Connection> after =
      store_->CreateConnection(MakeConnection("after"));
  EXPECT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(Revision(), 2);
}

TEST_P(PostgresStoreTest, NotifiesListenersOfEachNewRevision) {
  class Receiver : public pqxx::notification_receiver {
   public:
    using pqxx::notification_receiver::notification_receiver;
    void operator()(const std::string& payload, int) override {
      payloads.push_back(payload);
    }
    std::vector<std::string> payloads;
  };
  pqxx::connection listener(url_);
  Receiver receiver(listener, kConfigNotifyChannel);
  AddConnection("openai");
  // A refused mutation is rolled back, and its NOTIFY with it.
  EXPECT_FALSE(store_->CreateConnection(MakeConnection("openai")).ok());
  AddKey("team-a");
  for (int i = 0; i < 50 && receiver.payloads.size() < 2; ++i) {
    listener.await_notification(0, 100000);
  }
  EXPECT_EQ(receiver.payloads, (std::vector<std::string>{"1", "2"}));
}

// ---- Data planes ----

TEST_P(StoreContractTest, UpsertDataPlaneInsertsThenReplaces) {
  v1::DataPlane dp;
  dp.set_node_id("node-b");
  dp.set_address("10.0.0.2:8080");
  dp.set_acked_revision(3);
  dp.set_connected(true);
  *dp.mutable_last_contact_time() =
      TimeUtil::MicrosecondsToTimestamp(kDay0Micros + 1);
  dp.set_version("0.1.0");
  ASSERT_TRUE(store_->UpsertDataPlane(dp).ok());
  v1::DataPlane other;
  other.set_node_id("node-a");
  ASSERT_TRUE(store_->UpsertDataPlane(other).ok());

  dp.set_acked_revision(4);
  dp.set_nacked_revision(5);
  dp.set_last_nack_reason("bad config");
  dp.set_connected(false);
  ASSERT_TRUE(store_->UpsertDataPlane(dp).ok());

  absl::StatusOr<std::vector<v1::DataPlane>> planes = store_->ListDataPlanes();
  ASSERT_TRUE(planes.ok()) << planes.status();
  ASSERT_EQ(planes->size(), 2u);
  EXPECT_EQ((*planes)[0].node_id(), "node-a");
  EXPECT_TRUE(MessageDifferencer::Equals((*planes)[1], dp))
      << (*planes)[1].DebugString();
  EXPECT_EQ(Revision(), 0) << "fleet status is not config";
}

// ---- Usage ----

TEST_P(StoreContractTest, InsertUsageIsIdempotentByRequestId) {
  absl::StatusOr<UsageInsertResult> first =
      store_->InsertUsage({Usage("r1", "vk_a", "gpt", kDay0Micros),
                           Usage("r2", "vk_a", "gpt", kDay0Micros)});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->accepted, 2);
  EXPECT_EQ(first->duplicates, 0);

  absl::StatusOr<UsageInsertResult> replay =
      store_->InsertUsage({Usage("r2", "vk_a", "gpt", kDay0Micros),
                           Usage("r3", "vk_a", "gpt", kDay0Micros),
                           Usage("r3", "vk_a", "gpt", kDay0Micros)});
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->accepted, 1);
  EXPECT_EQ(replay->duplicates, 2);

  v1::QueryUsageRequest request;
  absl::StatusOr<v1::QueryUsageResponse> totals = store_->QueryUsage(request);
  ASSERT_TRUE(totals.ok()) << totals.status();
  ASSERT_EQ(totals->rows_size(), 1);
  EXPECT_EQ(totals->rows(0).requests(), 3) << "nothing counted twice";
}

TEST_P(StoreContractTest, InsertUsageStoresBatchesLargerThanOneStatement) {
  std::vector<v1::UsageRecord> batch;
  for (int i = 0; i < 250; ++i) {
    batch.push_back(Usage(absl::StrCat("big-", i), "vk_a", "gpt", kDay0Micros));
  }
  ASSERT_TRUE(store_->InsertUsage({batch[150]}).ok());
  batch.push_back(batch[7]);  // repeated across a statement boundary
  absl::StatusOr<UsageInsertResult> result = store_->InsertUsage(batch);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->accepted, 249);
  EXPECT_EQ(result->duplicates, 2);
  absl::StatusOr<v1::QueryUsageResponse> totals =
      store_->QueryUsage(v1::QueryUsageRequest());
  ASSERT_TRUE(totals.ok()) << totals.status();
  ASSERT_EQ(totals->rows_size(), 1);
  EXPECT_EQ(totals->rows(0).requests(), 250);
}

TEST_P(StoreContractTest, QueryUsageTotalsAndGroups) {
  ASSERT_TRUE(
      store_
          ->InsertUsage({
              Usage("r1", "vk_a", "gpt", kDay0Micros, 0.25),
              Usage("r2", "vk_a", "claude", kDay0Micros, 0.5),
              Usage("r3", "vk_b", "gpt", kDay0Micros, 1.0, "rate_limited"),
          })
          .ok());
  v1::QueryUsageRequest request;
  absl::StatusOr<v1::QueryUsageResponse> totals = store_->QueryUsage(request);
  ASSERT_TRUE(totals.ok()) << totals.status();
  ASSERT_EQ(totals->rows_size(), 1);
  const v1::UsageRow& total = totals->rows(0);
  EXPECT_FALSE(total.has_bucket_start());
  EXPECT_EQ(total.virtual_key_id(), "");
  EXPECT_EQ(total.requests(), 3);
  EXPECT_EQ(total.errors(), 1);
  EXPECT_EQ(total.prompt_tokens(), 30);
  EXPECT_EQ(total.completion_tokens(), 60);
  EXPECT_DOUBLE_EQ(total.cost_usd(), 1.75);

  request.add_group_by("virtual_key");
  absl::StatusOr<v1::QueryUsageResponse> by_key = store_->QueryUsage(request);
  ASSERT_TRUE(by_key.ok()) << by_key.status();
  ASSERT_EQ(by_key->rows_size(), 2);
  EXPECT_EQ(by_key->rows(0).virtual_key_id(), "vk_a");
  EXPECT_EQ(by_key->rows(0).requests(), 2);
  EXPECT_EQ(by_key->rows(0).model(), "") << "not grouped by model";
  EXPECT_EQ(by_key->rows(1).virtual_key_id(), "vk_b");
  EXPECT_EQ(by_key->rows(1).errors(), 1);

  request.clear_group_by();
  request.add_group_by("model");
  request.add_group_by("connection");
  request.set_virtual_key_id("vk_a");
  absl::StatusOr<v1::QueryUsageResponse> by_model = store_->QueryUsage(request);
  ASSERT_TRUE(by_model.ok()) << by_model.status();
  ASSERT_EQ(by_model->rows_size(), 2);
  EXPECT_EQ(by_model->rows(0).model(), "claude");
  EXPECT_EQ(by_model->rows(0).connection_id(), "cn_claude");
  EXPECT_EQ(by_model->rows(1).model(), "gpt");
  EXPECT_EQ(by_model->rows(1).requests(), 1);

  v1::QueryUsageRequest filtered;
  filtered.set_model("gpt");
  filtered.set_connection_id("cn_gpt");
  EXPECT_EQ(store_->QueryUsage(filtered)->rows(0).requests(), 2);
}

TEST_P(StoreContractTest, QueryUsageBucketsByHourAndDayWithinRange) {
  ASSERT_TRUE(store_
                  ->InsertUsage({
                      Usage("r1", "vk_a", "gpt", kDay0Micros + 10),
                      Usage("r2", "vk_a", "gpt", kDay0Micros + kHourMicros / 2),
                      Usage("r3", "vk_a", "gpt", kDay0Micros + kHourMicros),
                      Usage("r4", "vk_a", "gpt", kDay0Micros + kDayMicros + 5),
                      Usage("r5", "vk_a", "gpt", kDay0Micros + 3 * kDayMicros),
                  })
                  .ok());
  v1::QueryUsageRequest request;
  *request.mutable_start_time() =
      TimeUtil::MicrosecondsToTimestamp(kDay0Micros);
  *request.mutable_end_time() =
      TimeUtil::MicrosecondsToTimestamp(kDay0Micros + 3 * kDayMicros);
  request.set_granularity("hour");
  absl::StatusOr<v1::QueryUsageResponse> hours = store_->QueryUsage(request);
  ASSERT_TRUE(hours.ok()) << hours.status();
  ASSERT_EQ(hours->rows_size(), 3) << "end time is exclusive";
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(hours->rows(0).bucket_start()),
            kDay0Micros);
  EXPECT_EQ(hours->rows(0).requests(), 2);
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(hours->rows(1).bucket_start()),
            kDay0Micros + kHourMicros);
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(hours->rows(2).bucket_start()),
            kDay0Micros + kDayMicros);

  request.set_granularity("day");
  absl::StatusOr<v1::QueryUsageResponse> days = store_->QueryUsage(request);
  ASSERT_TRUE(days.ok()) << days.status();
  ASSERT_EQ(days->rows_size(), 2);
  EXPECT_EQ(days->rows(0).requests(), 3);
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(days->rows(1).bucket_start()),
            kDay0Micros + kDayMicros);

  *request.mutable_start_time() =
      TimeUtil::MicrosecondsToTimestamp(kDay0Micros + kHourMicros);
  days = store_->QueryUsage(request);
  ASSERT_TRUE(days.ok()) << days.status();
  EXPECT_EQ(days->rows(0).requests(), 1) << "start time is inclusive";
}

TEST_P(StoreContractTest, QueryUsagePagesWithToken) {
  std::vector<v1::UsageRecord> records;
  for (int i = 0; i < 5; ++i) {
    records.push_back(Usage(absl::StrCat("r", i), absl::StrCat("vk_", i), "gpt",
                            kDay0Micros));
  }
  ASSERT_TRUE(store_->InsertUsage(records).ok());
  v1::QueryUsageRequest request;
  request.add_group_by("virtual_key");
  request.set_page_size(2);
  std::vector<std::string> keys;
  for (int guard = 0; guard < 10; ++guard) {
    absl::StatusOr<v1::QueryUsageResponse> page = store_->QueryUsage(request);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->rows_size(), 2);
    for (const auto& row : page->rows()) keys.push_back(row.virtual_key_id());
    if (page->next_page_token().empty()) break;
    request.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(keys,
            (std::vector<std::string>{"vk_0", "vk_1", "vk_2", "vk_3", "vk_4"}));
}

TEST_P(StoreContractTest, QueryUsageRejectsUnknownArguments) {
  v1::QueryUsageRequest request;
  request.set_granularity("minute");
  EXPECT_EQ(store_->QueryUsage(request).status().code(),
            absl::StatusCode::kInvalidArgument);
  request.set_granularity("");
  request.add_group_by("team");
  EXPECT_EQ(store_->QueryUsage(request).status().code(),
            absl::StatusCode::kInvalidArgument);
  request.clear_group_by();
  request.set_page_token("not-a-token");
  EXPECT_EQ(store_->QueryUsage(request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(StoreContractTest, SpendSinceSumsPerAssignmentAndPerKey) {
  auto record = [](const std::string& id, const std::string& key,
                   const std::string& assignment, int64_t micros, double cost) {
    v1::UsageRecord r = Usage(id, key, "gpt", micros, cost);
    r.set_assignment_id(assignment);
    return r;
  };
  ASSERT_TRUE(store_
                  ->InsertUsage({
                      record("old", "vk_a", "as_1", kDay0Micros - 1, 100),
                      record("r1", "vk_a", "as_1", kDay0Micros, 1.5),
                      record("r2", "vk_a", "as_2", kDay0Micros + 5, 2),
                      record("r3", "vk_a", "as_1", kDay0Micros + 9, 0.25),
                      record("r4", "", "", kDay0Micros + 9, 7),
                  })
                  .ok());
  absl::StatusOr<std::vector<v1::BudgetSpend>> spend =
      store_->SpendSince(kDay0Micros / 1000000);
  ASSERT_TRUE(spend.ok()) << spend.status();
  ASSERT_EQ(spend->size(), 3u);
  EXPECT_EQ((*spend)[0].virtual_key_id(), "vk_a");
  EXPECT_EQ((*spend)[0].assignment_id(), "");
  EXPECT_DOUBLE_EQ((*spend)[0].spent_usd(), 3.75);
  EXPECT_EQ((*spend)[1].assignment_id(), "as_1");
  EXPECT_DOUBLE_EQ((*spend)[1].spent_usd(), 1.75);
  EXPECT_EQ((*spend)[2].assignment_id(), "as_2");
  EXPECT_DOUBLE_EQ((*spend)[2].spent_usd(), 2);
  EXPECT_EQ((*spend)[0].period_start_unix(), kDay0Micros / 1000000);
}

INSTANTIATE_TEST_SUITE_P(
    Backends, StoreContractTest, ::testing::Values("sqlite", "postgres"),
    [](const ::testing::TestParamInfo<std::string>& param) {
      return param.param;
    });

INSTANTIATE_TEST_SUITE_P(
    Backends, PostgresStoreTest, ::testing::Values("postgres"),
    [](const ::testing::TestParamInfo<std::string>& param) {
      return param.param;
    });

// ---- Opening ----

TEST(OpenStore, RejectsAnUnknownSchemeWithoutEchoingTheUrl) {
  absl::StatusOr<StorePtr> store = OpenStore("mysql://root:hunter2@db/x");
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.status().message().find("hunter2"), std::string::npos);
}

TEST(OpenStore, UnreachablePostgresIsUnavailable) {
  absl::StatusOr<StorePtr> store =
      OpenStore("postgresql://nobody:secret@127.0.0.1:1/none");
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace llmproxy::controlplane
