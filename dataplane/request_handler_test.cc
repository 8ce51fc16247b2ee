#include "dataplane/request_handler.h"

#include "boost/json/parse.hpp"
#include "common/crypto/sha256.h"
#include "dataplane/test_snapshot.h"
#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

class HandlerTest : public ::testing::Test {
 protected:
  HandlerResult Handle(std::string_view method, std::string_view target,
                       std::string_view key, std::string_view body = "") {
    ClientRequest req{method, target, key, body};
    info_ = RequestInfo{};
    return HandleClientRequest(
        req, snapshot_, options_, std::chrono::system_clock::now(),
        [](uint64_t) -> uint64_t { return 0; }, &info_);
  }
  static const DirectResponse& Direct(const HandlerResult& r) {
    return std::get<DirectResponse>(r);
  }
  static std::string Code(const HandlerResult& r) {
    auto v = boost::json::parse(Direct(r).body);
    const auto& code = v.at("error").at("code");
    return code.is_null() ? "" : std::string(code.as_string());
  }

  ConfigSnapshotPtr snapshot_ =
      *ConfigSnapshot::Build(testing::SampleSnapshot());
  HandlerOptions options_{.master_key_sha256 = Sha256Hex("sk-master")};
  RequestInfo info_;  // what the last Handle learned
};

TEST_F(HandlerTest, UnknownRouteIs404AndWrongMethod405) {
  EXPECT_EQ(Direct(Handle("GET", "/v1/nope", "sk-team")).status, 404);
  EXPECT_EQ(Code(Handle("GET", "/v1/nope", "sk-team")), "unknown_url");
  HandlerResult r = Handle("GET", "/v1/chat/completions", "sk-team");
  EXPECT_EQ(Direct(r).status, 405);
  EXPECT_EQ(Direct(r).headers.at(0).first, "Allow");
  EXPECT_EQ(Direct(Handle("DELETE", "/v1/models", "sk-team")).status, 405);
}

TEST_F(HandlerTest, NoSnapshotIs503) {
  snapshot_ = nullptr;
  HandlerResult r = Handle("POST", "/v1/chat/completions", "sk-team", "{}");
  EXPECT_EQ(Direct(r).status, 503);
  EXPECT_EQ(Code(r), "config_not_loaded");
}

TEST_F(HandlerTest, BadKeyIs401BeforeBodyValidation) {
  HandlerResult r = Handle("POST", "/v1/chat/completions", "sk-bad", "{");
  EXPECT_EQ(Direct(r).status, 401);
  EXPECT_EQ(Code(r), "invalid_api_key");
}

TEST_F(HandlerTest, ModelErrors) {
  auto chat = [&](std::string_view key, std::string_view model) {
    return Handle("POST", "/v1/chat/completions", key,
                  std::string(R"({"model":")") + std::string(model) +
                      R"(","messages":[]})");
  };
  EXPECT_EQ(Direct(chat("sk-other", "gpt")).status, 403);
  EXPECT_EQ(Code(chat("sk-other", "gpt")), "model_not_allowed");
  EXPECT_EQ(Direct(chat("sk-team", "nope")).status, 404);
  EXPECT_EQ(Code(chat("sk-team", "nope")), "model_not_found");
  EXPECT_EQ(Direct(chat("sk-team", "off")).status, 503);
  EXPECT_EQ(Code(chat("sk-team", "off")), "no_usable_deployment");
  EXPECT_EQ(Direct(Handle("POST", "/v1/chat/completions", "sk-team",
                          R"({"model":"gpt"})"))
                .status,
            400);
}

TEST_F(HandlerTest, PlansAttemptsWithSplicedModelAndFallback) {
  HandlerResult r = Handle(
      "POST", "/v1/chat/completions", "sk-team",
      R"({"model":"gpt","messages":[{"role":"user","content":"hi"}],"stream":true})");
  ASSERT_TRUE(std::holds_alternative<ProxyPlan>(r));
  const ProxyPlan& plan = std::get<ProxyPlan>(r);
  EXPECT_TRUE(plan.stream);
  // The proxy asks for usage and will strip the chunk the client did not ask
  // for.
  EXPECT_TRUE(plan.strip_usage_chunk);
  EXPECT_EQ(info_.virtual_key_id, "vk_team");
  ASSERT_EQ(plan.attempts.size(), 2u);
  EXPECT_EQ(plan.attempts[0].deployment->model_id, "md_gpt");
  EXPECT_EQ(plan.attempts[0].request->target, "/v1/chat/completions");
  EXPECT_EQ(
      plan.attempts[0].body,
      R"({"stream_options":{"include_usage":true},"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true})");
  // Azure: the model stays, the deployment is in the path.
  EXPECT_EQ(plan.attempts[1].deployment->model_id, "md_gpt_az");
  EXPECT_EQ(plan.attempts[1].request->target,
            "/openai/deployments/my-deploy/chat/completions"
            "?api-version=2024-10-21");
  EXPECT_NE(plan.attempts[1].body.find(R"("model":"gpt")"), std::string::npos);
}

TEST_F(HandlerTest, ListModelsShowsOnlyTheKeysAliases) {
  HandlerResult r = Handle("GET", "/v1/models", "sk-other");
  ASSERT_EQ(Direct(r).status, 200);
  auto v = boost::json::parse(Direct(r).body);
  EXPECT_EQ(v.at("object").as_string(), "list");
  const auto& data = v.at("data").as_array();
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0].at("id").as_string(), "emb");
  EXPECT_EQ(data[0].at("object").as_string(), "model");
  auto master =
      boost::json::parse(Direct(Handle("GET", "/v1/models", "sk-master")).body);
  EXPECT_EQ(master.at("data").as_array().size(), 4u);
}

TEST_F(HandlerTest, GetModel) {
  EXPECT_EQ(Direct(Handle("GET", "/v1/models/emb", "sk-other")).status, 200);
  EXPECT_EQ(Direct(Handle("GET", "/v1/models/gpt", "sk-other")).status, 403);
  EXPECT_EQ(Direct(Handle("GET", "/v1/models/zzz", "sk-other")).status, 404);
  auto v = boost::json::parse(
      Direct(Handle("GET", "/v1/models/gpt", "sk-master")).body);
  EXPECT_EQ(v.at("id").as_string(), "gpt");
}

TEST_F(HandlerTest, MasterKeyReachesEveryModel) {
  HandlerResult r = Handle("POST", "/v1/embeddings", "sk-master",
                           R"({"model":"emb","input":"x"})");
  ASSERT_TRUE(std::holds_alternative<ProxyPlan>(r));
  EXPECT_EQ(std::get<ProxyPlan>(r).attempts[0].request->target,
            "/v1/embeddings");
  EXPECT_EQ(std::get<ProxyPlan>(r).attempts[0].body,
            R"({"model":"text-embedding-3-small","input":"x"})");
}

}  // namespace
}  // namespace llmproxy::dataplane
