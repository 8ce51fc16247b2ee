#include "dataplane/config_snapshot.h"

#include "common/config_delta.h"
#include "common/crypto/sha256.h"
#include "dataplane/config_subscriber.h"
#include "dataplane/limits/clock.h"
#include "dataplane/test_snapshot.h"
#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

using testing::SampleSnapshot;

TEST(ConfigSnapshot, FindsKeysBySha256) {
  ConfigSnapshotPtr snap = *ConfigSnapshot::Build(SampleSnapshot());
  EXPECT_EQ(snap->revision(), 7);
  const VirtualKeyInfo* key = snap->FindKey(Sha256Hex("sk-team"));
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(key->id, "vk_team");
  EXPECT_EQ(snap->FindKey(Sha256Hex("sk-nope")), nullptr);
  EXPECT_EQ(snap->FindKey("sk-team"), nullptr);  // never by plain text
}

TEST(ConfigSnapshot, KeyReachesAliasesThroughConnectionAndModelAssignments) {
  ConfigSnapshotPtr snap = *ConfigSnapshot::Build(SampleSnapshot());
  const VirtualKeyInfo* key = snap->FindKey(Sha256Hex("sk-team"));
  ASSERT_NE(key, nullptr);
  // Via the connection: both models on cn_openai; via md_gpt_az: the Azure
  // deployment joins alias "gpt".
  ASSERT_TRUE(key->aliases.contains("gpt"));
  ASSERT_TRUE(key->aliases.contains("emb"));
  const auto& gpt = key->aliases.at("gpt").deployments;
  ASSERT_EQ(gpt.size(), 2u);
  EXPECT_EQ(gpt[0]->model_id, "md_gpt");  // priority 0 before 1
  EXPECT_EQ(gpt[1]->model_id, "md_gpt_az");
  EXPECT_EQ(gpt[1]->remote_model, "my-deploy");
  EXPECT_EQ(gpt[1]->connection->id, "cn_azure");
}

TEST(ConfigSnapshot, UnusableDeploymentsKeepTheAliasButNoDeployment) {
  ConfigSnapshotPtr snap = *ConfigSnapshot::Build(SampleSnapshot());
  const VirtualKeyInfo* key = snap->FindKey(Sha256Hex("sk-team"));
  ASSERT_TRUE(key->aliases.contains("off"));  // connection disabled
  EXPECT_TRUE(key->aliases.at("off").deployments.empty());
  ASSERT_TRUE(key->aliases.contains("bedrock-model"));  // unsupported
  EXPECT_TRUE(key->aliases.at("bedrock-model").deployments.empty());
}

TEST(ConfigSnapshot, ModelAssignmentGrantsOnlyThatDeployment) {
  ConfigSnapshotPtr snap = *ConfigSnapshot::Build(SampleSnapshot());
  const VirtualKeyInfo* other = snap->FindKey(Sha256Hex("sk-other"));
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->aliases.size(), 1u);
  EXPECT_TRUE(other->aliases.contains("emb"));
  EXPECT_FALSE(other->aliases.contains("gpt"));
}

TEST(ConfigSnapshot, AllAliasesServeTheMasterKey) {
  ConfigSnapshotPtr snap = *ConfigSnapshot::Build(SampleSnapshot());
  ASSERT_NE(snap->FindAlias("gpt"), nullptr);
  EXPECT_EQ(snap->FindAlias("gpt")->deployments.size(), 2u);
  EXPECT_NE(snap->FindAlias("off"), nullptr);
  EXPECT_EQ(snap->FindAlias("nope"), nullptr);
  EXPECT_EQ(snap->aliases().size(), 4u);
}

TEST(ConfigSnapshot, DisabledModelIsNotUsable) {
  v1::ConfigSnapshot proto = SampleSnapshot();
  proto.mutable_models(0)->set_enabled(false);  // md_gpt
  ConfigSnapshotPtr snap = *ConfigSnapshot::Build(proto);
  const auto& gpt = snap->FindAlias("gpt")->deployments;
  ASSERT_EQ(gpt.size(), 1u);
  EXPECT_EQ(gpt[0]->model_id, "md_gpt_az");
}

TEST(ConfigSnapshot, ParsesEndpointsAndDefaults) {
  v1::ConfigSnapshot proto = SampleSnapshot();
  proto.mutable_connections(0)->set_endpoint("");  // openai default
  ConfigSnapshotPtr snap = *ConfigSnapshot::Build(proto);
  const Deployment* d = snap->FindAlias("emb")->deployments[0];
  EXPECT_TRUE(d->connection->endpoint.tls);
  EXPECT_EQ(d->connection->endpoint.host, "api.openai.com");
  EXPECT_EQ(d->connection->endpoint.port, 443);
  EXPECT_EQ(d->connection->endpoint.base_path, "/v1");
}

TEST(ConfigSnapshot, RejectsAnEnabledConnectionWithAnUnparsableEndpoint) {
  v1::ConfigSnapshot proto = SampleSnapshot();
  testing::AddConnection(proto, "cn_bad", "openai_compatible",
                         "http://127.0.0.1:9/v1?tenant=x");
  auto snap = ConfigSnapshot::Build(proto);
  ASSERT_FALSE(snap.ok());
  EXPECT_EQ(snap.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(snap.status().message().find("cn_bad"), std::string_view::npos);

  proto.mutable_connections(proto.connections_size() - 1)->set_enabled(false);
  EXPECT_TRUE(ConfigSnapshot::Build(proto).ok());
}

v1::ConfigSnapshot LimitedSnapshot() {
  v1::ConfigSnapshot proto = SampleSnapshot();
  v1::Limits* key = proto.mutable_virtual_keys(0)->mutable_limits();  // vk_team
  key->set_requests_per_second(5);
  key->set_budget_usd(10);
  key->set_budget_period("day");
  v1::Limits* as2 = proto.mutable_assignments(1)->mutable_limits();  // as_2
  as2->set_max_concurrent(3);
  as2->set_budget_usd(4);
  proto.set_fleet_size(2);
  v1::BudgetSpend* spend = proto.add_budget_spend();
  spend->set_virtual_key_id("vk_team");
  spend->set_spent_usd(6);
  spend->set_period_start_unix(1700000000);
  v1::BudgetSpend* other = proto.add_budget_spend();
  other->set_virtual_key_id("vk_team");
  other->set_assignment_id("as_2");
  other->set_spent_usd(1);
  return proto;
}

TEST(ConfigSnapshot, BuildsLimitStatesWithFleetBudgetFigures) {
  ManualClock clock;
  LimitRegistry registry(clock);
  ConfigSnapshotPtr snap = *ConfigSnapshot::Build(LimitedSnapshot(), &registry);
  const VirtualKeyInfo* key = snap->FindKey(Sha256Hex("sk-team"));
  ASSERT_NE(key, nullptr);
  LimitState* key_limits = snap->Limits(key->limit_slot);
  ASSERT_NE(key_limits, nullptr);
  EXPECT_EQ(snap->Scope(key->limit_slot).scope_id, "vk_team");
  EXPECT_EQ(snap->Scope(key->limit_slot).budget_period, "day");
  EXPECT_DOUBLE_EQ(key_limits->requests->rate_per_second(), 5);
  // ($10 - $6 spent fleet-wide) / 2 data planes.
  EXPECT_EQ(key_limits->budget->allowance_micros(), 2'000'000);
  EXPECT_EQ(key_limits->spec.budget_period_start, 1700000000);

  const AliasGrant& gpt = key->aliases.at("gpt");
  const AssignmentInfo* az = gpt.AssignmentFor(gpt.deployments[1]);
  ASSERT_NE(az, nullptr);
  EXPECT_EQ(az->id, "as_2");
  LimitState* as2 = snap->Limits(az->limit_slot);
  ASSERT_NE(as2, nullptr);
  EXPECT_EQ(as2->concurrency->max(), 3);
  EXPECT_EQ(as2->budget->allowance_micros(), 1'500'000);  // ($4 - $1) / 2
  // as_1 has no limits.
  const AssignmentInfo* as1 = gpt.AssignmentFor(gpt.deployments[0]);
  ASSERT_NE(as1, nullptr);
  EXPECT_EQ(as1->id, "as_1");
  EXPECT_EQ(snap->Limits(as1->limit_slot), nullptr);
  // Without a registry nothing is limited.
  ConfigSnapshotPtr plain = *ConfigSnapshot::Build(LimitedSnapshot());
  EXPECT_EQ(plain->Limits(plain->FindKey(Sha256Hex("sk-team"))->limit_slot),
            nullptr);
}

TEST(ConfigSnapshot, FleetFiguresRefreshKeepsBucketsAndSharesResources) {
  ManualClock clock;
  LimitRegistry registry(clock);
  v1::ConfigSnapshot proto = LimitedSnapshot();
  ConfigSnapshotPtr snap = *ConfigSnapshot::Build(proto, &registry);
  const VirtualKeyInfo* key = snap->FindKey(Sha256Hex("sk-team"));
  LimitState* before = snap->Limits(key->limit_slot);
  ASSERT_TRUE(before->requests->TryTake(3).admitted);

  proto.mutable_budget_spend(0)->set_spent_usd(8);
  ConfigSnapshotPtr next =
      snap->WithFleetFigures(proto.budget_spend(), 2, &registry);
  EXPECT_EQ(next->revision(), snap->revision());
  // Same resources: the key found is the very same object.
  EXPECT_EQ(next->FindKey(Sha256Hex("sk-team")), key);
  LimitState* after = next->Limits(key->limit_slot);
  EXPECT_EQ(after->requests, before->requests);
  EXPECT_DOUBLE_EQ(after->requests->Remaining(), 2);
  EXPECT_EQ(after->budget->allowance_micros(), 1'000'000);
}

TEST(ConfigSubscriber, AppliesFleetFigureRefreshesAndNacksAWrongBase) {
  ManualClock clock;
  SnapshotHolder holder;
  ConfigSubscriber subscriber({}, holder, nullptr, clock);
  ASSERT_TRUE(subscriber.Seed(LimitedSnapshot()).ok());
  ConfigSnapshotPtr seeded = holder.Get();
  const VirtualKeyInfo* key = seeded->FindKey(Sha256Hex("sk-team"));
  ASSERT_TRUE(seeded->Limits(key->limit_slot)->requests->TryTake(1).admitted);

  v1::StreamConfigResponse refresh;
  refresh.set_revision(7);
  refresh.mutable_delta()->set_base_revision(7);
  refresh.mutable_delta()->set_fleet_size(4);
  ASSERT_TRUE(subscriber.Apply(refresh).ok());
  ConfigSnapshotPtr refreshed = holder.Get();
  ASSERT_NE(refreshed, seeded);
  EXPECT_EQ(refreshed->revision(), 7);
  LimitState* limits = refreshed->Limits(key->limit_slot);
  EXPECT_EQ(limits->budget->allowance_micros(), 1'000'000);  // ($10-$6)/4
  EXPECT_DOUBLE_EQ(limits->requests->Remaining(), 4);

  v1::StreamConfigResponse stale;
  stale.set_revision(9);
  stale.mutable_delta()->set_base_revision(8);
  EXPECT_EQ(subscriber.Apply(stale).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(holder.Get(), refreshed);

  // A full snapshot the data plane cannot use is rejected; the old stays.
  v1::StreamConfigResponse bad;
  bad.set_revision(10);
  *bad.mutable_snapshot() = LimitedSnapshot();
  testing::AddConnection(*bad.mutable_snapshot(), "cn_bad", "openai",
                         "http://127.0.0.1:9/v1?tenant=x");
  EXPECT_EQ(subscriber.Apply(bad).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(holder.Get(), refreshed);
  EXPECT_EQ(subscriber.applied_revision(), 7);
}

TEST(ConfigDelta, UpsertsAndDeletesById) {
  v1::ConfigSnapshot base = SampleSnapshot();
  v1::ConfigDelta delta;
  delta.set_base_revision(7);
  v1::Model* changed = delta.add_upserted_models();
  changed->set_id("md_emb");
  changed->set_name("emb2");
  changed->set_remote_model("r");
  changed->set_connection_id("cn_openai");
  delta.add_deleted_model_ids("md_off");
  delta.add_deleted_virtual_key_ids("vk_other");
  auto next = ApplyConfigDelta(base, delta, 8);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->revision(), 8);
  EXPECT_EQ(next->models_size(), base.models_size() - 1);
  ConfigSnapshotPtr snap = *ConfigSnapshot::Build(*next);
  EXPECT_NE(snap->FindAlias("emb2"), nullptr);
  EXPECT_EQ(snap->FindAlias("emb"), nullptr);
  EXPECT_EQ(snap->FindAlias("off"), nullptr);
  EXPECT_EQ(snap->FindKey(Sha256Hex("sk-other")), nullptr);
}

TEST(ConfigDelta, RefusesAWrongBase) {
  v1::ConfigDelta delta;
  delta.set_base_revision(6);
  auto next = ApplyConfigDelta(SampleSnapshot(), delta, 8);
  EXPECT_EQ(next.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace llmproxy::dataplane
