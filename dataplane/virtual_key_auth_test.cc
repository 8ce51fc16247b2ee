#include "dataplane/virtual_key_auth.h"

#include <map>
#include <string>

#include "common/crypto/sha256.h"
#include "dataplane/test_snapshot.h"
#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

using std::chrono::system_clock;

HeaderLookup Headers(std::map<std::string, std::string> h) {
  return [h = std::move(h)](std::string_view name) -> std::string_view {
    auto it = h.find(std::string(name));
    return it == h.end() ? std::string_view() : std::string_view(it->second);
  };
}

TEST(ExtractApiKey, ReadsBearerAuthorization) {
  EXPECT_EQ(ExtractApiKey(Headers({{"authorization", "Bearer sk-1"}})), "sk-1");
  EXPECT_EQ(ExtractApiKey(Headers({{"authorization", "bearer   sk-2 "}})),
            "sk-2");
}

TEST(ExtractApiKey, ReadsAzureApiKeyHeader) {
  EXPECT_EQ(ExtractApiKey(Headers({{"api-key", "sk-az"}})), "sk-az");
}

TEST(ExtractApiKey, ReadsXApiKeyHeader) {
  EXPECT_EQ(ExtractApiKey(Headers({{"x-api-key", "sk-x"}})), "sk-x");
}

TEST(ExtractApiKey, PrefersAuthorizationAndIgnoresOtherSchemes) {
  EXPECT_EQ(ExtractApiKey(Headers(
                {{"authorization", "Bearer sk-a"}, {"api-key", "sk-b"}})),
            "sk-a");
  EXPECT_EQ(ExtractApiKey(Headers(
                {{"authorization", "Basic Zm9vOmJhcg=="}, {"x-api-key", "k"}})),
            "k");
  EXPECT_EQ(ExtractApiKey(Headers({{"authorization", "Bearer "}})), "");
  EXPECT_EQ(ExtractApiKey(Headers({})), "");
}

class AuthenticateTest : public ::testing::Test {
 protected:
  AuthenticateTest() {
    v1::ConfigSnapshot proto = testing::SampleSnapshot();
    v1::VirtualKey* off = testing::AddKey(proto, "vk_off", "sk-off");
    off->set_enabled(false);
    v1::VirtualKey* old = testing::AddKey(proto, "vk_old", "sk-old");
    old->mutable_expire_time()->set_seconds(1000);
    v1::VirtualKey* later = testing::AddKey(proto, "vk_later", "sk-later");
    later->mutable_expire_time()->set_seconds(4000000000);
    snapshot_ = *ConfigSnapshot::Build(proto);
  }

  absl::StatusOr<Caller> Auth(std::string_view key,
                              std::string_view master = "") {
    return Authenticate(*snapshot_, key, master, now_, &error_);
  }

  ConfigSnapshotPtr snapshot_;
  system_clock::time_point now_ = system_clock::from_time_t(2000000000);
  ApiError error_;
};

TEST_F(AuthenticateTest, AcceptsAnEnabledKey) {
  auto caller = Auth("sk-team");
  ASSERT_TRUE(caller.ok());
  EXPECT_FALSE(caller->is_master);
  EXPECT_EQ(caller->key->id, "vk_team");
  EXPECT_NE(caller->Grant(*snapshot_, "gpt"), nullptr);
  EXPECT_EQ(caller->Grant(*snapshot_, "nope"), nullptr);
}

TEST_F(AuthenticateTest, RefusesMissingUnknownDisabledAndExpiredKeys) {
  for (std::string_view key : {"", "sk-unknown", "sk-off", "sk-old"}) {
    auto caller = Auth(key);
    EXPECT_FALSE(caller.ok()) << key;
    EXPECT_EQ(error_.status, 401) << key;
    EXPECT_EQ(error_.code, "invalid_api_key") << key;
  }
  EXPECT_TRUE(Auth("sk-later").ok());
}

TEST_F(AuthenticateTest, MasterKeyMayCallEveryModel) {
  auto caller = Auth("sk-master", Sha256Hex("sk-master"));
  ASSERT_TRUE(caller.ok());
  EXPECT_TRUE(caller->is_master);
  EXPECT_NE(caller->Grant(*snapshot_, "gpt"), nullptr);
  EXPECT_NE(caller->Grant(*snapshot_, "emb"), nullptr);
  // Without a configured master key, the same string is just unknown.
  EXPECT_FALSE(Auth("sk-master").ok());
}

// The master key is looked for only among keys that are no virtual key: a
// virtual key given the same secret is that virtual key, with its own
// assignments and its own state.
TEST_F(AuthenticateTest, AVirtualKeyWithTheMasterSecretIsTheVirtualKey) {
  auto team = Auth("sk-team", Sha256Hex("sk-team"));
  ASSERT_TRUE(team.ok());
  EXPECT_FALSE(team->is_master);
  EXPECT_EQ(team->key->id, "vk_team");
  EXPECT_FALSE(Auth("sk-off", Sha256Hex("sk-off")).ok());
}

// One hasher serves a connection whose requests may carry different keys
// (a client behind another proxy): each request is judged by its own key.
TEST_F(AuthenticateTest, AConnectionsHasherJudgesEachRequestByItsOwnKey) {
  ApiKeyHasher hasher;
  const std::string_view keys[] = {"sk-team",    "sk-team", "sk-off",
                                   "sk-unknown", "sk-team", "",
                                   "sk-master",  "sk-later"};
  for (std::string_view key : keys) {
    SCOPED_TRACE(key);
    auto with = Authenticate(*snapshot_, key, Sha256Hex("sk-master"), now_,
                             &error_, &hasher);
    auto without = Auth(key, Sha256Hex("sk-master"));
    ASSERT_EQ(with.ok(), without.ok());
    if (!with.ok()) continue;
    EXPECT_EQ(with->is_master, without->is_master);
    EXPECT_EQ(with->key, without->key);
  }
}

TEST(ApiKeyHasher, GivesTheKeysSha256WhetherRememberedOrNot) {
  ApiKeyHasher hasher;
  for (std::string_view key :
       {"sk-a", "sk-a", "sk-b", "sk-a", "sk-ab", "", "sk-a"}) {
    EXPECT_EQ(hasher.Hash(key), Sha256Hex(key)) << key;
  }
}

}  // namespace
}  // namespace llmproxy::dataplane
