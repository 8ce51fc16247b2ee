// ConfigDiscoveryService.StreamConfig over real gRPC: what a data plane sees.

#include <algorithm>
#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto/sha256.h"
#include "controlplane/config_cache.h"
#include "controlplane/test_dataplane.h"
#include "controlplane/test_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace llmproxy::controlplane {
namespace {

using testing::ControlPlaneTest;
using ::testing::ElementsAre;
using testing::FakeDataPlane;
using testing::kAdminToken;
using testing::kDataPlaneToken;
using State = FakeDataPlane::State;
using std::chrono::milliseconds;
using std::chrono::seconds;

class ConfigDiscoveryTest : public ControlPlaneTest {
 protected:
  std::unique_ptr<FakeDataPlane> Connect(
      const std::string& node_id, const std::string& token = kDataPlaneToken,
      std::optional<v1::ConfigSnapshot> seed = std::nullopt) {
    return std::make_unique<FakeDataPlane>(*config_, node_id, token,
                                           std::move(seed));
  }

  int64_t Revision() {
    v1::GetConfigRevisionResponse response;
    EXPECT_TRUE(admin_
                    ->GetConfigRevision(
                        Ctx().get(), v1::GetConfigRevisionRequest(), &response)
                    .ok());
    return response.revision();
  }

  v1::DataPlane FleetEntry(const std::string& node_id) {
    v1::ListDataPlanesResponse response;
    EXPECT_TRUE(admin_
                    ->ListDataPlanes(Ctx().get(), v1::ListDataPlanesRequest(),
                                     &response)
                    .ok());
    for (const v1::DataPlane& plane : response.data_planes()) {
      if (plane.node_id() == node_id) return plane;
    }
    return v1::DataPlane();
  }

  // Polls the fleet status until `done` holds for `node_id` (2 s at most).
  v1::DataPlane WaitForFleetEntry(
      const std::string& node_id,
      const std::function<bool(const v1::DataPlane&)>& done) {
    v1::DataPlane entry;
    for (int i = 0; i < 100; ++i) {
      entry = FleetEntry(node_id);
      if (done(entry)) break;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return entry;
  }

  void DeleteConnection(const std::string& id, bool force) {
    v1::DeleteConnectionRequest request;
    request.set_id(id);
    request.set_force(force);
    v1::DeleteConnectionResponse empty;
    grpc::Status status =
        admin_->DeleteConnection(Ctx().get(), request, &empty);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  v1::VirtualKey MakeBudgetedKey(const std::string& name, double budget_usd) {
    v1::CreateVirtualKeyRequest create;
    create.mutable_virtual_key()->set_name(name);
    create.mutable_virtual_key()->mutable_limits()->set_budget_usd(budget_usd);
    create.mutable_virtual_key()->mutable_limits()->set_budget_period("total");
    v1::VirtualKey key;
    grpc::Status status = admin_->CreateVirtualKey(Ctx().get(), create, &key);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return key;
  }

  static int ConfigPushes(const State& s, int64_t after_revision) {
    int count = 0;
    for (const auto& push : s.pushes) {
      if (push.revision() > after_revision) ++count;
    }
    return count;
  }
};

TEST_F(ConfigDiscoveryTest, FirstPushIsASnapshotWithPlainProviderKeys) {
  v1::Connection connection = MakeConnection("c1", "sk-provider-plain-4242");
  v1::Model model = MakeModel(connection.id());
  v1::VirtualKey key = MakeVirtualKey("team-a");
  MakeAssignment(key.id(), model.id());

  auto plane = Connect("dp-1");
  ASSERT_TRUE(plane->WaitForRevision(Revision(), seconds(5)));
  v1::StreamConfigResponse push = plane->pushes().front();
  ASSERT_TRUE(push.has_snapshot());
  const v1::ConfigSnapshot& snapshot = push.snapshot();
  EXPECT_EQ(snapshot.revision(), push.revision());
  ASSERT_EQ(snapshot.connections_size(), 1);
  EXPECT_EQ(snapshot.connections(0).api_key(), "sk-provider-plain-4242");
  ASSERT_EQ(snapshot.models_size(), 1);
  ASSERT_EQ(snapshot.virtual_keys_size(), 1);
  EXPECT_EQ(snapshot.virtual_keys(0).key(), "");
  EXPECT_EQ(snapshot.virtual_keys(0).key_sha256(), Sha256Hex(key.key()));
  EXPECT_EQ(snapshot.assignments_size(), 1);
  EXPECT_EQ(snapshot.fleet_size(), 1);
}

TEST_F(ConfigDiscoveryTest, AChangeIsPushedAsADeltaWithinASecond) {
  MakeConnection("c1");
  MakeVirtualKey("team-a");
  auto plane = Connect("dp-1");
  const int64_t base = Revision();
  ASSERT_TRUE(plane->WaitForRevision(base, seconds(5)));

  v1::Connection second = MakeConnection("c2", "sk-second-key-7777");
  const int64_t revision = std::stoll(second.etag());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(plane->WaitForRevision(revision, seconds(1)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(1));

  v1::StreamConfigResponse push = plane->last_push();
  EXPECT_EQ(push.revision(), revision);
  ASSERT_TRUE(push.has_delta()) << "a data plane one change behind needs "
                                   "only that change";
  const v1::ConfigDelta& delta = push.delta();
  EXPECT_EQ(delta.base_revision(), base);
  ASSERT_EQ(delta.upserted_connections_size(), 1);
  EXPECT_EQ(delta.upserted_connections(0).id(), second.id());
  EXPECT_EQ(delta.upserted_connections(0).api_key(), "sk-second-key-7777");
  EXPECT_EQ(delta.upserted_virtual_keys_size(), 0);
  EXPECT_EQ(delta.upserted_models_size(), 0);
  EXPECT_EQ(delta.deleted_connection_ids_size(), 0);
  EXPECT_EQ(delta.fleet_size(), 1);
  EXPECT_EQ(plane->config().connections_size(), 2);
}

TEST_F(ConfigDiscoveryTest, ADeletionIsPushedAsDeletedIds) {
  v1::Connection connection = MakeConnection("c1");
  v1::Model model = MakeModel(connection.id());
  v1::VirtualKey key = MakeVirtualKey("team-a");
  v1::Assignment assignment = MakeAssignment(key.id(), model.id());
  auto plane = Connect("dp-1");
  const int64_t base = Revision();
  ASSERT_TRUE(plane->WaitForRevision(base, seconds(5)));

  DeleteConnection(connection.id(), /*force=*/true);
  ASSERT_TRUE(plane->WaitForRevision(Revision(), seconds(2)));
  v1::StreamConfigResponse push = plane->last_push();
  ASSERT_TRUE(push.has_delta());
  EXPECT_EQ(push.delta().base_revision(), base);
  EXPECT_THAT(push.delta().deleted_connection_ids(),
              ElementsAre(connection.id()));
  EXPECT_THAT(push.delta().deleted_model_ids(), ElementsAre(model.id()));
  EXPECT_THAT(push.delta().deleted_assignment_ids(),
              ElementsAre(assignment.id()));
  EXPECT_EQ(push.delta().upserted_connections_size(), 0);
  v1::ConfigSnapshot config = plane->config();
  EXPECT_EQ(config.connections_size(), 0);
  EXPECT_EQ(config.models_size(), 0);
  EXPECT_EQ(config.assignments_size(), 0);
  EXPECT_EQ(config.virtual_keys_size(), 1);
}

TEST_F(ConfigDiscoveryTest, AReconnectingDataPlaneGetsADeltaFromItsRevision) {
  MakeConnection("c1");
  auto first = Connect("dp-1");
  ASSERT_TRUE(first->WaitForRevision(Revision(), seconds(5)));
  v1::ConfigSnapshot held = first->config();
  first->Close();

  v1::Connection added = MakeConnection("c2");
  auto again = Connect("dp-1", kDataPlaneToken, held);
  ASSERT_TRUE(again->WaitForRevision(Revision(), seconds(5)));
  v1::StreamConfigResponse push = again->pushes().front();
  ASSERT_TRUE(push.has_delta());
  EXPECT_EQ(push.delta().base_revision(), held.revision());
  ASSERT_EQ(push.delta().upserted_connections_size(), 1);
  EXPECT_EQ(push.delta().upserted_connections(0).id(), added.id());
  EXPECT_EQ(again->config().connections_size(), 2);
}

TEST_F(ConfigDiscoveryTest, ADataPlaneAtTheNewestRevisionGetsOnlyTheFigures) {
  MakeConnection("c1");
  auto first = Connect("dp-1");
  ASSERT_TRUE(first->WaitForRevision(Revision(), seconds(5)));
  v1::ConfigSnapshot held = first->config();
  first->Close();

  auto again = Connect("dp-1", kDataPlaneToken, held);
  ASSERT_TRUE(again->WaitForPushes(1, seconds(5)));
  v1::StreamConfigResponse push = again->pushes().front();
  ASSERT_TRUE(push.has_delta());
  EXPECT_EQ(push.revision(), held.revision());
  EXPECT_EQ(push.delta().base_revision(), held.revision());
  EXPECT_EQ(push.delta().upserted_connections_size(), 0);
  EXPECT_EQ(push.delta().fleet_size(), 1);
}

TEST_F(ConfigDiscoveryTest, ADataPlaneTooFarBehindGetsAFullSnapshot) {
  MakeConnection("c1");
  auto first = Connect("dp-1");
  ASSERT_TRUE(first->WaitForRevision(Revision(), seconds(5)));
  v1::ConfigSnapshot held = first->config();
  first->Close();

  // More changes than a delta is built from, written as another replica
  // would (no notification needed: the stream reads the newest state).
  for (int i = 0; i <= kMaxDeltaChanges; ++i) {
    v1::VirtualKey key;
    key.set_name(absl::StrCat("k", i));
    key.set_key_sha256(Sha256Hex(absl::StrCat("sk-key-", i)));
    key.set_key_prefix("sk-key-…");
    ASSERT_TRUE(server_->store().CreateVirtualKey(key).ok());
  }
  auto again = Connect("dp-1", kDataPlaneToken, held);
  ASSERT_TRUE(again->WaitForRevision(held.revision() + kMaxDeltaChanges + 1,
                                     seconds(10)));
  // The push that brings the newer revision is a full snapshot. (Until the
  // publisher has seen the other replica's writes, a figures-only delta at
  // the held revision may come first.)
  const std::vector<v1::StreamConfigResponse> pushes = again->pushes();
  auto newer = std::find_if(pushes.begin(), pushes.end(), [&](const auto& p) {
    return p.revision() > held.revision();
  });
  ASSERT_NE(newer, pushes.end());
  EXPECT_TRUE(newer->has_snapshot());
  EXPECT_EQ(again->config().virtual_keys_size(), kMaxDeltaChanges + 1);
}

TEST_F(ConfigDiscoveryTest, ARevisionNewerThanTheDatabaseGetsAFullSnapshot) {
  MakeConnection("c1");
  // What a data plane holds after its database was reset to an empty one.
  v1::ConfigSnapshot stale;
  stale.set_revision(Revision() + 100);
  stale.add_connections()->set_id("cn_000000000000");
  auto plane = Connect("dp-1", kDataPlaneToken, stale);
  ASSERT_TRUE(plane->WaitForPushes(1, seconds(5)));
  v1::StreamConfigResponse push = plane->pushes().front();
  ASSERT_TRUE(push.has_snapshot());
  EXPECT_EQ(push.revision(), Revision());
  EXPECT_EQ(push.snapshot().connections(0).name(), "c1");
}

TEST_F(ConfigDiscoveryTest, ANackedDeltaIsFollowedByAFullSnapshot) {
  MakeConnection("c1");
  auto plane = Connect("dp-1");
  ASSERT_TRUE(plane->WaitForRevision(Revision(), seconds(5)));
  bool rejected = false;
  plane->RejectWhen([&](const v1::StreamConfigResponse& push) {
    if (push.has_delta() && !rejected) {
      rejected = true;
      return "cannot apply this delta";
    }
    return "";
  });

  MakeConnection("c2");
  const int64_t revision = Revision();
  ASSERT_TRUE(plane->WaitForRevision(revision, seconds(3)));
  State state = plane->state();
  ASSERT_EQ(state.pushes.size(), 3u);
  EXPECT_TRUE(state.pushes[1].has_delta());
  EXPECT_THAT(state.nacked, ElementsAre(revision));
  EXPECT_TRUE(state.pushes[2].has_snapshot());
  EXPECT_EQ(state.pushes[2].revision(), revision);
  EXPECT_EQ(state.config.connections_size(), 2);
}

TEST_F(ConfigDiscoveryTest, ANackedConfigIsNotResentAndShowsInFleetStatus) {
  MakeConnection("c1");
  auto plane = Connect("dp-nack");
  const int64_t good = Revision();
  ASSERT_TRUE(plane->WaitForRevision(good, seconds(5)));
  // The data plane rejects any config holding the connection "bad".
  plane->RejectWhen([](const v1::StreamConfigResponse& push) -> std::string {
    auto has_bad = [](const auto& connections) {
      for (const v1::Connection& c : connections) {
        if (c.name() == "bad") return true;
      }
      return false;
    };
    if (has_bad(push.snapshot().connections()) ||
        has_bad(push.delta().upserted_connections())) {
      return "unsupported endpoint in connection bad";
    }
    return "";
  });

  v1::Connection bad = MakeConnection("bad");
  const int64_t rejected = Revision();
  // The delta is rejected, then the full snapshot too; then nothing more.
  ASSERT_TRUE(plane->WaitFor(
      [](const State& s) { return s.nacked.size() >= 2; }, seconds(3)));
  std::this_thread::sleep_for(milliseconds(800));
  State state = plane->state();
  EXPECT_THAT(state.nacked, ElementsAre(rejected, rejected));
  EXPECT_EQ(ConfigPushes(state, good), 2) << "a rejected snapshot was resent";
  EXPECT_EQ(state.config.revision(), good);
  EXPECT_EQ(state.config.connections_size(), 1);

  v1::DataPlane entry = WaitForFleetEntry(
      "dp-nack",
      [&](const v1::DataPlane& e) { return e.nacked_revision() == rejected; });
  EXPECT_EQ(entry.nacked_revision(), rejected);
  EXPECT_EQ(entry.last_nack_reason(), "unsupported endpoint in connection bad");
  EXPECT_EQ(entry.acked_revision(), good);
  EXPECT_TRUE(entry.connected());

  // The next revision is tried again, as a full snapshot, and accepted.
  DeleteConnection(bad.id(), /*force=*/false);
  const int64_t fixed = Revision();
  ASSERT_TRUE(plane->WaitForRevision(fixed, seconds(3)));
  EXPECT_TRUE(plane->last_push().has_snapshot());
  entry = WaitForFleetEntry("dp-nack", [&](const v1::DataPlane& e) {
    return e.acked_revision() == fixed;
  });
  EXPECT_EQ(entry.acked_revision(), fixed);
  EXPECT_EQ(entry.last_nack_reason(), "");
}

TEST_F(ConfigDiscoveryTest, ABurstOfChangesIsCoalesced) {
  v1::Connection connection = MakeConnection("c1");
  auto plane = Connect("dp-1");
  const int64_t start = Revision();
  ASSERT_TRUE(plane->WaitForRevision(start, seconds(5)));

  constexpr int kChanges = 50;
  for (int i = 0; i < kChanges; ++i) {
    MakeModel(connection.id(), absl::StrCat("m", i), "r");
  }
  ASSERT_TRUE(plane->WaitForRevision(Revision(), seconds(3)));
  EXPECT_EQ(plane->config().models_size(), kChanges);
  EXPECT_LT(ConfigPushes(plane->state(), start), kChanges / 5)
      << "each change was pushed on its own";
}

TEST_F(ConfigDiscoveryTest, ChangesThroughAnotherReplicaArriveByPolling) {
  v1::Connection connection = MakeConnection("c1");
  auto plane = Connect("dp-1");
  ASSERT_TRUE(plane->WaitForRevision(Revision(), seconds(5)));
  // Written to the database directly, as another control plane would: no
  // in-process notification, only the revision poll can notice.
  absl::StatusOr<v1::Connection> stored =
      server_->store().GetConnection(connection.id());
  ASSERT_TRUE(stored.ok());
  stored->set_timeout_ms(1234);
  absl::StatusOr<v1::Connection> updated =
      server_->store().UpdateConnection(*stored, stored->etag());
  ASSERT_TRUE(updated.ok()) << updated.status();
  ASSERT_TRUE(plane->WaitForRevision(std::stoll(updated->etag()), seconds(2)));
  EXPECT_EQ(plane->config().connections(0).timeout_ms(), 1234);
}

TEST_F(ConfigDiscoveryTest, AcksAndTheConnectionAreRecordedInTheFleetStatus) {
  MakeConnection("c1");
  auto plane = Connect("dp-ack");
  const int64_t revision = Revision();
  ASSERT_TRUE(plane->WaitForRevision(revision, seconds(5)));
  v1::DataPlane entry = WaitForFleetEntry(
      "dp-ack",
      [&](const v1::DataPlane& e) { return e.acked_revision() == revision; });
  EXPECT_EQ(entry.acked_revision(), revision);
  EXPECT_TRUE(entry.connected());
  EXPECT_EQ(entry.address(), "10.0.0.7:8080");
  EXPECT_EQ(entry.version(), "test-1");
  EXPECT_TRUE(entry.has_last_contact_time());

  plane->Close();
  entry = WaitForFleetEntry(
      "dp-ack", [](const v1::DataPlane& e) { return !e.connected(); });
  EXPECT_FALSE(entry.connected());
}

TEST_F(ConfigDiscoveryTest, FleetSizeCountsConnectedDataPlanes) {
  auto first = Connect("dp-1");
  ASSERT_TRUE(first->WaitForRevision(0, seconds(5)));
  auto second = Connect("dp-2");
  // The first data plane hears that the fleet grew, then shrank.
  EXPECT_TRUE(first->WaitFor(
      [](const State& s) { return s.config.fleet_size() == 2; }, seconds(3)));
  EXPECT_TRUE(second->WaitFor(
      [](const State& s) { return s.config.fleet_size() == 2; }, seconds(3)));
  second->Close();
  EXPECT_TRUE(first->WaitFor(
      [](const State& s) { return s.config.fleet_size() == 1; }, seconds(3)));
  // Only figures changed: budget refreshes, not config pushes.
  for (const auto& push : first->pushes()) {
    if (push.has_delta()) {
      EXPECT_EQ(push.delta().base_revision(), push.revision());
      EXPECT_EQ(push.delta().upserted_connections_size(), 0);
    }
  }
}

TEST_F(ConfigDiscoveryTest, SnapshotCarriesBudgetSpendOfTheCurrentPeriod) {
  v1::Connection connection = MakeConnection("c1");
  v1::Model model = MakeModel(connection.id());
  v1::VirtualKey key = MakeBudgetedKey("budgeted", 10);

  v1::UsageRecord record;
  record.set_request_id("req-budget-1");
  record.set_virtual_key_id(key.id());
  record.set_model(model.name());
  record.set_connection_id(connection.id());
  record.set_cost_usd(1.25);
  record.set_status("ok");
  record.mutable_start_time()->set_seconds(std::time(nullptr));
  ASSERT_TRUE(server_->store().InsertUsage({record}).ok());

  auto plane = Connect("dp-1");
  ASSERT_TRUE(plane->WaitForRevision(Revision(), seconds(5)));
  v1::StreamConfigResponse push = plane->pushes().front();
  ASSERT_TRUE(push.has_snapshot());
  ASSERT_EQ(push.snapshot().budget_spend_size(), 1);
  const v1::BudgetSpend& spend = push.snapshot().budget_spend(0);
  EXPECT_EQ(spend.virtual_key_id(), key.id());
  EXPECT_EQ(spend.assignment_id(), "");
  EXPECT_EQ(spend.period_start_unix(), 0);
  EXPECT_DOUBLE_EQ(spend.spent_usd(), 1.25);
}

TEST_F(ConfigDiscoveryTest, ReportedUsageIsPushedAsABudgetRefresh) {
  v1::Connection connection = MakeConnection("c1");
  v1::Model model = MakeModel(connection.id());
  v1::VirtualKey key = MakeBudgetedKey("budgeted", 10);
  auto plane = Connect("dp-1");
  const int64_t revision = Revision();
  ASSERT_TRUE(plane->WaitForRevision(revision, seconds(5)));
  ASSERT_EQ(plane->config().budget_spend_size(), 1);
  EXPECT_EQ(plane->config().budget_spend(0).spent_usd(), 0);
  const std::size_t before = plane->pushes().size();

  // A data plane reports usage through the real RPC.
  auto context = Ctx(kDataPlaneToken);
  auto stream = usage_->ReportUsage(context.get());
  v1::ReportUsageRequest batch;
  batch.set_dataplane_id("dp-1");
  batch.set_batch_id(1);
  v1::UsageRecord* record = batch.add_records();
  record->set_request_id("req-refresh-1");
  record->set_virtual_key_id(key.id());
  record->set_model(model.name());
  record->set_connection_id(connection.id());
  record->set_cost_usd(2.5);
  record->set_status("ok");
  record->mutable_start_time()->set_seconds(std::time(nullptr));
  ASSERT_TRUE(stream->Write(batch));
  v1::ReportUsageResponse ack;
  ASSERT_TRUE(stream->Read(&ack));
  stream->WritesDone();
  ASSERT_TRUE(stream->Finish().ok());

  ASSERT_TRUE(plane->WaitFor(
      [](const State& s) {
        return s.config.budget_spend_size() == 1 &&
               s.config.budget_spend(0).spent_usd() == 2.5;
      },
      seconds(3)));
  State state = plane->state();
  ASSERT_GT(state.pushes.size(), before);
  const v1::StreamConfigResponse& push = state.pushes.back();
  ASSERT_TRUE(push.has_delta());
  EXPECT_EQ(push.revision(), revision);
  EXPECT_EQ(push.delta().base_revision(), revision);
  EXPECT_EQ(push.delta().upserted_connections_size() +
                push.delta().upserted_models_size() +
                push.delta().upserted_virtual_keys_size() +
                push.delta().upserted_assignments_size() +
                push.delta().deleted_connection_ids_size() +
                push.delta().deleted_model_ids_size() +
                push.delta().deleted_virtual_key_ids_size() +
                push.delta().deleted_assignment_ids_size(),
            0);
  ASSERT_EQ(push.delta().budget_spend_size(), 1);
  EXPECT_EQ(push.delta().budget_spend(0).virtual_key_id(), key.id());
  EXPECT_EQ(push.delta().fleet_size(), 1);
}

TEST_F(ConfigDiscoveryTest, MetricsCountPushesByKindAndTimeEveryRpc) {
  MakeConnection("c1");
  auto plane = Connect("dp-1");
  ASSERT_TRUE(plane->WaitForRevision(Revision(), seconds(5)));
  MakeConnection("c2");
  ASSERT_TRUE(plane->WaitForRevision(Revision(), seconds(2)));

  std::string text = MetricsText();
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "llmproxy_controlplane_config_pushes_total{kind="
                        "\"snapshot\"} 1"));
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "llmproxy_controlplane_config_pushes_total{kind="
                        "\"delta\"} 1"));
  bool create_ok = false;
  bool unauthenticated = false;
  v1::Connection ignored;
  admin_->CreateConnection(Ctx("wrong").get(), v1::CreateConnectionRequest(),
                           &ignored);
  text = MetricsText();
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(
            line, "llmproxy_controlplane_rpc_duration_seconds_count{")) {
      continue;
    }
    if (absl::StrContains(
            line, "method=\"llmproxy.v1.AdminService/CreateConnection\"")) {
      if (absl::StrContains(line, "code=\"OK\"") &&
          absl::EndsWith(line, "} 2")) {
        create_ok = true;
      }
      if (absl::StrContains(line, "code=\"UNAUTHENTICATED\"") &&
          absl::EndsWith(line, "} 1")) {
        unauthenticated = true;
      }
    }
  }
  EXPECT_TRUE(create_ok) << text;
  EXPECT_TRUE(unauthenticated) << text;
}

TEST_F(ConfigDiscoveryTest, TheAdminTokenIsAcceptedToo) {
  auto plane = Connect("dp-admin", kAdminToken);
  EXPECT_TRUE(plane->WaitForPushes(1, seconds(5)));
}

TEST_F(ConfigDiscoveryTest, RefusesAStreamWithoutAValidToken) {
  for (const char* token : {"", "wrong-token"}) {
    SCOPED_TRACE(token);
    auto plane = Connect("dp-x", token);
    EXPECT_EQ(plane->Finish(seconds(5)).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_TRUE(plane->pushes().empty());
  }
}

TEST_F(ConfigDiscoveryTest, RefusesAHelloWithoutNodeId) {
  auto plane = Connect("");
  EXPECT_EQ(plane->Finish(seconds(5)).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(plane->pushes().empty());
}

TEST_F(ConfigDiscoveryTest, ShutdownEndsOpenStreams) {
  auto plane = Connect("dp-1");
  ASSERT_TRUE(plane->WaitForPushes(1, seconds(5)));
  auto start = std::chrono::steady_clock::now();
  server_->Shutdown(seconds(5));
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(3));
  EXPECT_TRUE(
      plane->WaitFor([](const State& s) { return s.ended; }, seconds(2)));
}

}  // namespace
}  // namespace llmproxy::controlplane
