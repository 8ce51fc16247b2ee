#include "dataplane/provider_adapter.h"

#include <algorithm>

#include "dataplane/config_snapshot.h"
#include "dataplane/test_snapshot.h"
#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

bool HasHeader(const HeaderList& headers, std::string_view name,
               std::string_view value) {
  return std::find(headers.begin(), headers.end(),
                   std::pair<std::string, std::string>(name, value)) !=
         headers.end();
}

TEST(UpstreamEndpoint, ParsesSchemesPortsAndPaths) {
  auto a = ParseUpstreamEndpoint("https://api.openai.com/v1/");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->tls);
  EXPECT_EQ(a->host, "api.openai.com");
  EXPECT_EQ(a->port, 443);
  EXPECT_EQ(a->base_path, "/v1");
  EXPECT_EQ(a->host_header, "api.openai.com");
  auto b = ParseUpstreamEndpoint("http://127.0.0.1:8081");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->tls);
  EXPECT_EQ(b->port, 8081);
  EXPECT_EQ(b->base_path, "");
  EXPECT_EQ(b->host_header, "127.0.0.1:8081");
  EXPECT_EQ(b->pool_key, "http:127.0.0.1:8081");
  auto c = ParseUpstreamEndpoint("http://[::1]:9000/x");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->host_header, "[::1]:9000");
  EXPECT_FALSE(ParseUpstreamEndpoint("ftp://x").ok());
  EXPECT_FALSE(ParseUpstreamEndpoint("https://x/?a=b").ok());
  EXPECT_FALSE(ParseUpstreamEndpoint("https://x:99999").ok());
  EXPECT_FALSE(ParseUpstreamEndpoint("https://").ok());
  EXPECT_FALSE(ParseUpstreamEndpoint("https://user:pw@x/v1").ok());
  EXPECT_FALSE(ParseUpstreamEndpoint("https://x/v1#frag").ok());
  auto d = ParseUpstreamEndpoint("HTTPS://API.Example.COM/v1");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->tls);
  EXPECT_EQ(d->host, "api.example.com");
}

TEST(OpenAiAdapter, BuildsPathsAndBearerHeader) {
  ConnectionInfo conn;
  conn.endpoint = *ParseUpstreamEndpoint("https://api.openai.com/v1");
  conn.api_key = "sk-real";
  conn.extra_headers = {{"OpenAI-Organization", "org-1"}, {"Host", "evil"}};
  const ProviderAdapter* adapter = AdapterForProvider("openai");
  ASSERT_NE(adapter, nullptr);
  auto chat =
      adapter->BuildRequest(conn, "gpt-4o", Operation::kChatCompletions);
  ASSERT_TRUE(chat.ok());
  EXPECT_EQ(chat->target, "/v1/chat/completions");
  EXPECT_TRUE(chat->rewrite_model);
  EXPECT_TRUE(HasHeader(chat->headers, "Authorization", "Bearer sk-real"));
  EXPECT_TRUE(HasHeader(chat->headers, "OpenAI-Organization", "org-1"));
  EXPECT_FALSE(HasHeader(chat->headers, "Host", "evil"));
  EXPECT_EQ(adapter->BuildRequest(conn, "m", Operation::kCompletions)->target,
            "/v1/completions");
  EXPECT_EQ(adapter->BuildRequest(conn, "m", Operation::kEmbeddings)->target,
            "/v1/embeddings");
}

TEST(OpenAiAdapter, GeminiAndCompatibleUseTheSameShape) {
  ConnectionInfo conn;
  conn.endpoint = *ParseUpstreamEndpoint(
      "https://generativelanguage.googleapis.com/v1beta/openai");
  conn.api_key = "AIza-key";
  auto req = AdapterForProvider("gemini")->BuildRequest(
      conn, "gemini-1.5-flash", Operation::kChatCompletions);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->target, "/v1beta/openai/chat/completions");
  EXPECT_TRUE(HasHeader(req->headers, "Authorization", "Bearer AIza-key"));
  EXPECT_NE(AdapterForProvider("openai_compatible"), nullptr);
  EXPECT_EQ(AdapterForProvider("bedrock"), nullptr);
  EXPECT_EQ(AdapterForProvider("anthropic"), nullptr);
}

TEST(AzureOpenAiAdapter, PutsDeploymentInPathAndKeyInApiKeyHeader) {
  ConnectionInfo conn;
  conn.endpoint = *ParseUpstreamEndpoint("https://res.openai.azure.com/");
  conn.api_key = "az-secret";
  conn.api_version = "2024-10-21";
  const ProviderAdapter* adapter = AdapterForProvider("azure_openai");
  auto req =
      adapter->BuildRequest(conn, "my deploy", Operation::kChatCompletions);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->target,
            "/openai/deployments/my%20deploy/chat/completions"
            "?api-version=2024-10-21");
  EXPECT_TRUE(HasHeader(req->headers, "api-key", "az-secret"));
  for (const auto& [name, value] : req->headers) {
    EXPECT_NE(name, "Authorization");
  }
  EXPECT_FALSE(req->rewrite_model);
  conn.api_version.clear();
  EXPECT_EQ(adapter->BuildRequest(conn, "d", Operation::kEmbeddings)->target,
            "/openai/deployments/d/embeddings?api-version=2024-06-01");
}

TEST(ProviderAdapter, SnapshotWiresAdaptersAndExtraHeaders) {
  ConfigSnapshotPtr snap = *ConfigSnapshot::Build(testing::SampleSnapshot());
  const Deployment* az = snap->FindAlias("gpt")->deployments[1];
  auto req = az->connection->adapter->BuildRequest(
      *az->connection, az->remote_model, Operation::kChatCompletions);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->endpoint->host, "res.openai.azure.com");
  EXPECT_TRUE(HasHeader(req->headers, "x-team", "blue"));
  EXPECT_TRUE(HasHeader(req->headers, "api-key", "sk-provider-cn_azure"));
}

TEST(PrepareUpstreamRequest, WritesTheHeadEveryRequestShares) {
  ConnectionInfo conn;
  conn.endpoint = *ParseUpstreamEndpoint("http://127.0.0.1:8081/v1");
  conn.adapter = AdapterForProvider("openai");
  conn.api_key = "sk-real";
  // Replaces a default, is left out (framing is the proxy's), is added.
  conn.extra_headers = {{"user-agent", "team-tool/2"},
                        {"Connection", "close"},
                        {"X-Team", "blue"}};
  auto req = PrepareUpstreamRequest(conn, "gpt-4o", Operation::kEmbeddings);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->head,
            "POST /v1/embeddings HTTP/1.1\r\n"
            "Host: 127.0.0.1:8081\r\n"
            "Content-Type: application/json\r\n"
            "Accept: application/json, text/event-stream\r\n"
            "Authorization: Bearer sk-real\r\n"
            "user-agent: team-tool/2\r\n"
            "X-Team: blue\r\n");
}

TEST(PrepareUpstreamRequest,
     TheSnapshotKeepsOnePerUsableDeploymentAndOperation) {
  ConfigSnapshotPtr snap = *ConfigSnapshot::Build(testing::SampleSnapshot());
  const Deployment* az = snap->FindAlias("gpt")->deployments[1];
  ASSERT_TRUE(az->usable);
  for (const auto& upstream : az->upstream) {
    ASSERT_TRUE(upstream.has_value());
    EXPECT_EQ(upstream->endpoint, &az->connection->endpoint);
  }
  const auto& chat =
      az->upstream[static_cast<std::size_t>(Operation::kChatCompletions)];
  EXPECT_EQ(chat->target, "/openai/deployments/" + az->remote_model +
                              "/chat/completions?api-version=2024-10-21");
  EXPECT_NE(chat->head.find("\r\napi-key: sk-provider-cn_azure\r\n"),
            std::string::npos);
}

}  // namespace
}  // namespace llmproxy::dataplane
