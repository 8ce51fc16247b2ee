// Config distribution across control-plane replicas on one PostgreSQL
// database (a fresh database per test on the server of the CTest fixture
// `postgres`): LISTEN/NOTIFY, the revision poll fallback, and fleet status
// and fleet size that span replicas.

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crypto/random.h"
#include "controlplane/test_dataplane.h"
#include "controlplane/test_fixture.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"

namespace llmproxy::controlplane {
namespace {

using testing::ControlPlaneTest;
using testing::FakeDataPlane;
using testing::kDataPlaneToken;
using testing::Replica;
using State = FakeDataPlane::State;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A poll so slow that only a notification can deliver within a test.
constexpr auto kNoPoll = std::chrono::seconds(30);

class PostgresReplicasTest : public ControlPlaneTest {
 protected:
  std::string CreateDatabase() override {
    server_url_ = testing::PostgresServerUrl();
    if (server_url_.empty()) {
      ADD_FAILURE() << "LLMPROXY_TEST_PG_URL_FILE must name a file holding a "
                       "postgresql:// URL (run through ctest: fixture "
                       "`postgres`)";
      return "";
    }
    database_ = absl::StrCat("cp_test_", RandomHex(6));
    pqxx::connection admin(server_url_);
    pqxx::nontransaction(admin).exec0("CREATE DATABASE " + database_);
    return server_url_.substr(0, server_url_.rfind('/') + 1) + database_;
  }

  void DropDatabase() override {
    if (database_.empty()) return;
    pqxx::connection admin(server_url_);
    pqxx::nontransaction(admin).exec0("DROP DATABASE IF EXISTS " + database_ +
                                      " WITH (FORCE)");
  }

  ControlPlaneOptions Options() override {
    ControlPlaneOptions options = ControlPlaneTest::Options();
    options.listen_database_url = database_url_;
    return options;
  }

  // A second replica: LISTENing (or not), with the revision poll at `poll`.
  Replica& SecondReplica(bool listen, std::chrono::milliseconds poll) {
    ControlPlaneOptions options = Options();
    if (!listen) options.listen_database_url.clear();
    options.revision_poll_interval = poll;
    return AddReplica(options);
  }

  // Creates a connection through replica 1 and measures how long until a
  // data plane on `replica` has applied it.
  std::chrono::milliseconds Propagation(FakeDataPlane& plane,
                                        const std::string& name) {
    v1::Connection created = MakeConnection(name);
    const int64_t revision = std::stoll(created.etag());
    auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(plane.WaitForRevision(revision, seconds(5)));
    return std::chrono::duration_cast<milliseconds>(
        std::chrono::steady_clock::now() - start);
  }

  static std::vector<v1::DataPlane> Fleet(v1::AdminService::Stub& admin) {
    v1::ListDataPlanesResponse response;
    EXPECT_TRUE(
        admin
            .ListDataPlanes(Ctx().get(), v1::ListDataPlanesRequest(), &response)
            .ok());
    return {response.data_planes().begin(), response.data_planes().end()};
  }

  std::string server_url_;
  std::string database_;
};

TEST_F(PostgresReplicasTest, AChangeReachesAStreamOnAnotherReplicaByNotify) {
  Replica& second = SecondReplica(/*listen=*/true, kNoPoll);
  MakeConnection("c1");
  FakeDataPlane plane(*second.config, "dp-on-2", kDataPlaneToken);
  ASSERT_TRUE(plane.WaitForPushes(1, seconds(5)));
  for (int i = 0; i < 3; ++i) {
    EXPECT_LT(Propagation(plane, absl::StrCat("c-notify-", i)), seconds(1));
  }
  EXPECT_EQ(plane.config().connections_size(), 4);
  EXPECT_TRUE(plane.last_push().has_delta());
}

TEST_F(PostgresReplicasTest, WithoutNotificationsThePollDeliversWithinASecond) {
  Replica& second = SecondReplica(/*listen=*/false, milliseconds(500));
  MakeConnection("c1");
  FakeDataPlane plane(*second.config, "dp-on-2", kDataPlaneToken);
  ASSERT_TRUE(plane.WaitForPushes(1, seconds(5)));
  for (int i = 0; i < 3; ++i) {
    EXPECT_LT(Propagation(plane, absl::StrCat("c-poll-", i)), seconds(1));
  }
}

TEST_F(PostgresReplicasTest, TheListenerReconnectsAfterItsConnectionDrops) {
  Replica& second = SecondReplica(/*listen=*/true, kNoPoll);
  FakeDataPlane plane(*second.config, "dp-on-2", kDataPlaneToken);
  ASSERT_TRUE(plane.WaitForPushes(1, seconds(5)));
  {
    // What a database restart or failover does to the LISTEN connection.
    pqxx::connection admin(server_url_);
    pqxx::nontransaction(admin).exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
        "datname = '" +
        database_ + "' AND pid <> pg_backend_pid()");
  }
  // The pools recover on their own; the listener re-LISTENs with backoff and
  // re-reads the revision, so even a change made meanwhile arrives.
  EXPECT_LT(Propagation(plane, "after-drop"), seconds(3));
  EXPECT_LT(Propagation(plane, "after-reconnect"), seconds(1));
}

TEST_F(PostgresReplicasTest, FleetStatusAndFleetSizeSpanReplicas) {
  Replica& second = SecondReplica(/*listen=*/true, milliseconds(500));
  FakeDataPlane first_plane(*config_, "dp-on-1", kDataPlaneToken);
  auto second_plane = std::make_unique<FakeDataPlane>(*second.config, "dp-on-2",
                                                      kDataPlaneToken);
  auto fleet_of = [](int n) {
    return [n](const State& s) { return s.config.fleet_size() == n; };
  };
  EXPECT_TRUE(first_plane.WaitFor(fleet_of(2), seconds(3)));
  EXPECT_TRUE(second_plane->WaitFor(fleet_of(2), seconds(3)));

  // Each replica lists both, connected, with what they acked.
  for (v1::AdminService::Stub* admin : {admin_.get(), second.admin.get()}) {
    std::vector<v1::DataPlane> fleet = Fleet(*admin);
    ASSERT_EQ(fleet.size(), 2u);
    EXPECT_EQ(fleet[0].node_id(), "dp-on-1");
    EXPECT_EQ(fleet[1].node_id(), "dp-on-2");
    for (const v1::DataPlane& plane : fleet) {
      EXPECT_TRUE(plane.connected()) << plane.node_id();
      EXPECT_EQ(plane.address(), "10.0.0.7:8080");
      EXPECT_TRUE(plane.has_last_contact_time());
    }
  }
  // Connected stays true across heartbeats (3 heartbeats = 600 ms here).
  std::this_thread::sleep_for(milliseconds(1000));
  for (const v1::DataPlane& plane : Fleet(*admin_)) {
    EXPECT_TRUE(plane.connected()) << plane.node_id();
  }

  second_plane->Close();
  EXPECT_TRUE(first_plane.WaitFor(fleet_of(1), seconds(3)));
  std::vector<v1::DataPlane> fleet = Fleet(*admin_);
  ASSERT_EQ(fleet.size(), 2u);
  EXPECT_TRUE(fleet[0].connected());
  EXPECT_FALSE(fleet[1].connected());
}

TEST_F(PostgresReplicasTest,
       ADataPlaneOfADeadReplicaStopsCountingAfter3Heartbeats) {
  FakeDataPlane plane(*config_, "dp-on-1", kDataPlaneToken);
  ASSERT_TRUE(plane.WaitForPushes(1, seconds(5)));
  // What a replica that crashed leaves behind: a row marked connected that
  // nobody refreshes any more.
  v1::DataPlane orphan;
  orphan.set_node_id("dp-of-dead-replica");
  orphan.set_connected(true);
  *orphan.mutable_last_contact_time() =
      google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
          absl::ToUnixMillis(absl::Now()));
  ASSERT_TRUE(server_->store().UpsertDataPlane(orphan).ok());
  EXPECT_TRUE(plane.WaitFor(
      [](const State& s) { return s.config.fleet_size() == 2; }, seconds(3)));
  // Three heartbeats (600 ms here) later it no longer counts.
  EXPECT_TRUE(plane.WaitFor(
      [](const State& s) { return s.config.fleet_size() == 1; }, seconds(3)));
  std::vector<v1::DataPlane> fleet = Fleet(*admin_);
  ASSERT_EQ(fleet.size(), 2u);
  EXPECT_EQ(fleet[0].node_id(), "dp-of-dead-replica");
  EXPECT_FALSE(fleet[0].connected());
  EXPECT_TRUE(fleet[1].connected());
}

}  // namespace
}  // namespace llmproxy::controlplane
