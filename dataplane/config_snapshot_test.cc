#include "dataplane/config_snapshot.h"

#include "common/crypto/sha256.h"
#include "dataplane/config_delta.h"
#include "dataplane/test_snapshot.h"
#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

using testing::SampleSnapshot;

TEST(ConfigSnapshot, FindsKeysBySha256) {
  ConfigSnapshotPtr snap = ConfigSnapshot::Build(SampleSnapshot());
  EXPECT_EQ(snap->revision(), 7);
  const VirtualKeyInfo* key = snap->FindKey(Sha256Hex("sk-team"));
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(key->id, "vk_team");
  EXPECT_EQ(snap->FindKey(Sha256Hex("sk-nope")), nullptr);
  EXPECT_EQ(snap->FindKey("sk-team"), nullptr);  // never by plain text
}

TEST(ConfigSnapshot, KeyReachesAliasesThroughConnectionAndModelAssignments) {
  ConfigSnapshotPtr snap = ConfigSnapshot::Build(SampleSnapshot());
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
  ConfigSnapshotPtr snap = ConfigSnapshot::Build(SampleSnapshot());
  const VirtualKeyInfo* key = snap->FindKey(Sha256Hex("sk-team"));
  ASSERT_TRUE(key->aliases.contains("off"));  // connection disabled
  EXPECT_TRUE(key->aliases.at("off").deployments.empty());
  ASSERT_TRUE(key->aliases.contains("bedrock-model"));  // unsupported
  EXPECT_TRUE(key->aliases.at("bedrock-model").deployments.empty());
}

TEST(ConfigSnapshot, ModelAssignmentGrantsOnlyThatDeployment) {
  ConfigSnapshotPtr snap = ConfigSnapshot::Build(SampleSnapshot());
  const VirtualKeyInfo* other = snap->FindKey(Sha256Hex("sk-other"));
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->aliases.size(), 1u);
  EXPECT_TRUE(other->aliases.contains("emb"));
  EXPECT_FALSE(other->aliases.contains("gpt"));
}

TEST(ConfigSnapshot, AllAliasesServeTheMasterKey) {
  ConfigSnapshotPtr snap = ConfigSnapshot::Build(SampleSnapshot());
  ASSERT_NE(snap->FindAlias("gpt"), nullptr);
  EXPECT_EQ(snap->FindAlias("gpt")->deployments.size(), 2u);
  EXPECT_NE(snap->FindAlias("off"), nullptr);
  EXPECT_EQ(snap->FindAlias("nope"), nullptr);
  EXPECT_EQ(snap->aliases().size(), 4u);
}

TEST(ConfigSnapshot, DisabledModelIsNotUsable) {
  v1::ConfigSnapshot proto = SampleSnapshot();
  proto.mutable_models(0)->set_enabled(false);  // md_gpt
  ConfigSnapshotPtr snap = ConfigSnapshot::Build(proto);
  const auto& gpt = snap->FindAlias("gpt")->deployments;
  ASSERT_EQ(gpt.size(), 1u);
  EXPECT_EQ(gpt[0]->model_id, "md_gpt_az");
}

TEST(ConfigSnapshot, ParsesEndpointsAndDefaults) {
  v1::ConfigSnapshot proto = SampleSnapshot();
  proto.mutable_connections(0)->set_endpoint("");  // openai default
  ConfigSnapshotPtr snap = ConfigSnapshot::Build(proto);
  const Deployment* d = snap->FindAlias("emb")->deployments[0];
  EXPECT_TRUE(d->connection->endpoint.tls);
  EXPECT_EQ(d->connection->endpoint.host, "api.openai.com");
  EXPECT_EQ(d->connection->endpoint.port, 443);
  EXPECT_EQ(d->connection->endpoint.base_path, "/v1");
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
  ConfigSnapshotPtr snap = ConfigSnapshot::Build(*next);
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
