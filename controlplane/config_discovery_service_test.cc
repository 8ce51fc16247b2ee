// ConfigDiscoveryService.StreamConfig over real gRPC: what a data plane sees.

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "common/crypto/sha256.h"
#include "controlplane/test_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace llmproxy::controlplane {
namespace {

using testing::ControlPlaneTest;
using testing::kAdminToken;
using testing::kDataPlaneToken;
using Stream =
    grpc::ClientReaderWriter<v1::StreamConfigRequest, v1::StreamConfigResponse>;

class ConfigDiscoveryTest : public ControlPlaneTest {
 protected:
  // A data plane's end of a config stream.
  struct DataPlane {
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<Stream> stream;
  };

  DataPlane Connect(const std::string& node_id,
                    const std::string& token = kDataPlaneToken) {
    DataPlane plane;
    plane.context = Ctx(token, std::chrono::seconds(30));
    plane.stream = config_->StreamConfig(plane.context.get());
    v1::StreamConfigRequest hello;
    hello.set_node_id(node_id);
    hello.set_address("10.0.0.7:8080");
    hello.set_version("test-1");
    // Not checked: a refused stream may be closed before the hello goes out;
    // tests check what the data plane reads instead.
    plane.stream->Write(hello);
    return plane;
  }

  // Reads pushes until one reaches `revision` or `timeout` passes (a read
  // that outlives the timeout is cut by cancelling the call).
  static bool ReadUntil(DataPlane& plane, int64_t revision,
                        std::chrono::milliseconds timeout,
                        v1::StreamConfigResponse* last, int* pushes) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::thread watchdog([&] {
      while (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (last->revision() >= revision) return;
      }
      if (last->revision() < revision) plane.context->TryCancel();
    });
    v1::StreamConfigResponse push;
    bool reached = false;
    while (plane.stream->Read(&push)) {
      *last = push;
      if (pushes) ++*pushes;
      if (push.revision() >= revision) {
        reached = true;
        break;
      }
    }
    watchdog.join();
    return reached;
  }

  static void Close(DataPlane& plane) {
    plane.stream->WritesDone();
    plane.context->TryCancel();
    plane.stream->Finish();
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
};

TEST_F(ConfigDiscoveryTest, FirstPushIsASnapshotWithPlainProviderKeys) {
  v1::Connection connection = MakeConnection("c1", "sk-provider-plain-4242");
  v1::Model model = MakeModel(connection.id());
  v1::VirtualKey key = MakeVirtualKey("team-a");
  MakeAssignment(key.id(), model.id());

  DataPlane plane = Connect("dp-1");
  v1::StreamConfigResponse push;
  ASSERT_TRUE(
      ReadUntil(plane, Revision(), std::chrono::seconds(5), &push, nullptr));
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
  Close(plane);
}

TEST_F(ConfigDiscoveryTest, AChangeIsPushedWithinASecond) {
  MakeConnection("c1");
  DataPlane plane = Connect("dp-1");
  v1::StreamConfigResponse push;
  ASSERT_TRUE(
      ReadUntil(plane, Revision(), std::chrono::seconds(5), &push, nullptr));

  v1::Connection second = MakeConnection("c2", "sk-second-key-7777");
  int64_t revision = std::stoll(second.etag());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(
      ReadUntil(plane, revision, std::chrono::seconds(1), &push, nullptr));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(push.revision(), revision);
  EXPECT_EQ(push.snapshot().connections_size(), 2);
  Close(plane);
}

TEST_F(ConfigDiscoveryTest, ABurstOfChangesIsCoalesced) {
  v1::Connection connection = MakeConnection("c1");
  DataPlane plane = Connect("dp-1");
  v1::StreamConfigResponse push;
  ASSERT_TRUE(
      ReadUntil(plane, Revision(), std::chrono::seconds(5), &push, nullptr));

  constexpr int kChanges = 20;
  for (int i = 0; i < kChanges; ++i) {
    // (StrCat: GCC 12 warns falsely on "m" + std::to_string(i) at -O2.)
    MakeModel(connection.id(), absl::StrCat("m", i), "r");
  }
  int pushes = 0;
  ASSERT_TRUE(
      ReadUntil(plane, Revision(), std::chrono::seconds(3), &push, &pushes));
  EXPECT_EQ(push.snapshot().models_size(), kChanges);
  EXPECT_LT(pushes, kChanges / 2) << "each change was pushed on its own";
  Close(plane);
}

TEST_F(ConfigDiscoveryTest, ChangesThroughAnotherReplicaArriveByPolling) {
  v1::Connection connection = MakeConnection("c1");
  DataPlane plane = Connect("dp-1");
  v1::StreamConfigResponse push;
  ASSERT_TRUE(
      ReadUntil(plane, Revision(), std::chrono::seconds(5), &push, nullptr));
  // Written to the database directly, as another control plane would: no
  // in-process notification, only the revision poll can notice.
  absl::StatusOr<v1::Connection> stored =
      server_->store().GetConnection(connection.id());
  ASSERT_TRUE(stored.ok());
  stored->set_timeout_ms(1234);
  absl::StatusOr<v1::Connection> updated =
      server_->store().UpdateConnection(*stored, stored->etag());
  ASSERT_TRUE(updated.ok()) << updated.status();
  ASSERT_TRUE(ReadUntil(plane, std::stoll(updated->etag()),
                        std::chrono::seconds(2), &push, nullptr));
  EXPECT_EQ(push.snapshot().connections(0).timeout_ms(), 1234);
  Close(plane);
}

TEST_F(ConfigDiscoveryTest, AckAndNackAreRecordedInTheFleetStatus) {
  MakeConnection("c1");
  DataPlane plane = Connect("dp-ack");
  v1::StreamConfigResponse push;
  ASSERT_TRUE(
      ReadUntil(plane, Revision(), std::chrono::seconds(5), &push, nullptr));
  v1::StreamConfigRequest ack;
  ack.set_node_id("dp-ack");
  ack.set_response_revision(push.revision());
  ack.set_applied_revision(push.revision());
  ASSERT_TRUE(plane.stream->Write(ack));

  v1::DataPlane entry;
  for (int i = 0; i < 100; ++i) {
    entry = FleetEntry("dp-ack");
    if (entry.acked_revision() == push.revision()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(entry.acked_revision(), push.revision());
  EXPECT_TRUE(entry.connected());
  EXPECT_EQ(entry.address(), "10.0.0.7:8080");
  EXPECT_EQ(entry.version(), "test-1");
  EXPECT_TRUE(entry.has_last_contact_time());

  v1::Connection second = MakeConnection("c2");
  ASSERT_TRUE(ReadUntil(plane, std::stoll(second.etag()),
                        std::chrono::seconds(2), &push, nullptr));
  v1::StreamConfigRequest nack;
  nack.set_node_id("dp-ack");
  nack.set_response_revision(push.revision());
  nack.set_error_detail("unknown provider in connection c2");
  ASSERT_TRUE(plane.stream->Write(nack));
  for (int i = 0; i < 100; ++i) {
    entry = FleetEntry("dp-ack");
    if (entry.nacked_revision() == push.revision()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(entry.nacked_revision(), push.revision());
  EXPECT_EQ(entry.last_nack_reason(), "unknown provider in connection c2");
  EXPECT_LT(entry.acked_revision(), push.revision());

  Close(plane);
  for (int i = 0; i < 100 && FleetEntry("dp-ack").connected(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(FleetEntry("dp-ack").connected());
}

TEST_F(ConfigDiscoveryTest, FleetSizeCountsConnectedDataPlanes) {
  DataPlane first = Connect("dp-1");
  v1::StreamConfigResponse push;
  ASSERT_TRUE(ReadUntil(first, 0, std::chrono::seconds(5), &push, nullptr));
  DataPlane second = Connect("dp-2");
  // The first data plane hears that the fleet grew.
  for (int i = 0; i < 5 && push.snapshot().fleet_size() != 2; ++i) {
    ASSERT_TRUE(ReadUntil(first, 0, std::chrono::seconds(2), &push, nullptr));
  }
  EXPECT_EQ(push.snapshot().fleet_size(), 2);
  Close(first);
  Close(second);
}

TEST_F(ConfigDiscoveryTest, TheAdminTokenIsAcceptedToo) {
  DataPlane plane = Connect("dp-admin", kAdminToken);
  v1::StreamConfigResponse push;
  EXPECT_TRUE(ReadUntil(plane, 0, std::chrono::seconds(5), &push, nullptr));
  Close(plane);
}

TEST_F(ConfigDiscoveryTest, RefusesAStreamWithoutAValidToken) {
  for (const char* token : {"", "wrong-token"}) {
    SCOPED_TRACE(token);
    DataPlane plane = Connect("dp-x", token);
    v1::StreamConfigResponse push;
    EXPECT_FALSE(plane.stream->Read(&push));
    EXPECT_EQ(plane.stream->Finish().error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
}

TEST_F(ConfigDiscoveryTest, RefusesAHelloWithoutNodeId) {
  DataPlane plane = Connect("");
  v1::StreamConfigResponse push;
  EXPECT_FALSE(plane.stream->Read(&push));
  EXPECT_EQ(plane.stream->Finish().error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ConfigDiscoveryTest, SnapshotCarriesBudgetSpendOfTheCurrentPeriod) {
  v1::Connection connection = MakeConnection("c1");
  v1::Model model = MakeModel(connection.id());
  v1::CreateVirtualKeyRequest create;
  create.mutable_virtual_key()->set_name("budgeted");
  create.mutable_virtual_key()->mutable_limits()->set_budget_usd(10);
  create.mutable_virtual_key()->mutable_limits()->set_budget_period("total");
  v1::VirtualKey key;
  ASSERT_TRUE(admin_->CreateVirtualKey(Ctx().get(), create, &key).ok());

  v1::UsageRecord record;
  record.set_request_id("req-budget-1");
  record.set_virtual_key_id(key.id());
  record.set_model(model.name());
  record.set_connection_id(connection.id());
  record.set_cost_usd(1.25);
  record.set_status("ok");
  record.mutable_start_time()->set_seconds(std::time(nullptr));
  ASSERT_TRUE(server_->store().InsertUsage({record}).ok());

  DataPlane plane = Connect("dp-1");
  v1::StreamConfigResponse push;
  ASSERT_TRUE(
      ReadUntil(plane, Revision(), std::chrono::seconds(5), &push, nullptr));
  ASSERT_EQ(push.snapshot().budget_spend_size(), 1);
  const v1::BudgetSpend& spend = push.snapshot().budget_spend(0);
  EXPECT_EQ(spend.virtual_key_id(), key.id());
  EXPECT_EQ(spend.assignment_id(), "");
  EXPECT_EQ(spend.period_start_unix(), 0);
  EXPECT_DOUBLE_EQ(spend.spent_usd(), 1.25);
  Close(plane);
}

TEST_F(ConfigDiscoveryTest, ShutdownEndsOpenStreams) {
  DataPlane plane = Connect("dp-1");
  v1::StreamConfigResponse push;
  ASSERT_TRUE(ReadUntil(plane, 0, std::chrono::seconds(5), &push, nullptr));
  auto start = std::chrono::steady_clock::now();
  server_->Shutdown(std::chrono::seconds(5));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_FALSE(plane.stream->Read(&push));
  plane.stream->Finish();
}

}  // namespace
}  // namespace llmproxy::controlplane
