#include "common/admin_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace llmproxy {
namespace {

// Sends one raw HTTP/1.1 request to 127.0.0.1:port and returns everything
// the server wrote until it closed the connection.
std::string RawRequest(uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  ::send(fd, request.data(), request.size(), 0);
  std::string response;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    response.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return response;
}

std::string Get(uint16_t port, const std::string& path) {
  return RawRequest(port, "GET " + path +
                              " HTTP/1.1\r\nHost: localhost\r\nConnection: "
                              "close\r\n\r\n");
}

TEST(AdminHttpServer, HealthzAnswersOkWhileRunning) {
  AdminHttpServer server("127.0.0.1:0", nullptr, nullptr);
  ASSERT_TRUE(server.Start().ok());
  ASSERT_NE(server.port(), 0);
  std::string response = Get(server.port(), "/healthz");
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("\r\n\r\nok"), std::string::npos) << response;
}

TEST(AdminHttpServer, ReadyzFollowsTheReadyCheck) {
  auto ready = std::make_shared<std::atomic<bool>>(false);
  AdminHttpServer server("127.0.0.1:0", nullptr,
                         [ready] { return ready->load(); });
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(Get(server.port(), "/readyz").rfind("HTTP/1.1 503", 0), 0u);
  *ready = true;
  EXPECT_EQ(Get(server.port(), "/readyz").rfind("HTTP/1.1 200", 0), 0u);
}

TEST(AdminHttpServer, MetricsServesTheRegistryInTextFormat) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("test_things_total")
      .Help("Things counted by the test.")
      .Register(*registry)
      .Add({{"kind", "x"}})
      .Increment(3);
  AdminHttpServer server("127.0.0.1:0", registry, nullptr);
  ASSERT_TRUE(server.Start().ok());
  std::string response = Get(server.port(), "/metrics");
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  EXPECT_NE(response.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(response.find("test_things_total{kind=\"x\"} 3"), std::string::npos)
      << response;
}

TEST(AdminHttpServer, UnknownPathIsNotFoundAndPostIsNotAllowed) {
  AdminHttpServer server("127.0.0.1:0", nullptr, nullptr);
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(Get(server.port(), "/nope").rfind("HTTP/1.1 404", 0), 0u);
  std::string post = RawRequest(
      server.port(),
      "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: "
      "close\r\n\r\n");
  EXPECT_EQ(post.rfind("HTTP/1.1 405", 0), 0u) << post;
}

TEST(AdminHttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  AdminHttpServer server("127.0.0.1:0", nullptr, nullptr);
  ASSERT_TRUE(server.Start().ok());
  std::string response = RawRequest(
      server.port(),
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::size_t first = response.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(response.find("HTTP/1.1 200", first + 1), std::string::npos)
      << response;
}

TEST(AdminHttpServer, StartReportsAPortInUse) {
  AdminHttpServer first("127.0.0.1:0", nullptr, nullptr);
  ASSERT_TRUE(first.Start().ok());
  AdminHttpServer second("127.0.0.1:" + std::to_string(first.port()), nullptr,
                         nullptr);
  absl::Status status = second.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

TEST(AdminHttpServer, StartRejectsAMalformedAddress) {
  AdminHttpServer server("no-port-here", nullptr, nullptr);
  EXPECT_EQ(server.Start().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AdminHttpServer, StopClosesTheListenerAndIsIdempotent) {
  AdminHttpServer server("127.0.0.1:0", nullptr, nullptr);
  ASSERT_TRUE(server.Start().ok());
  uint16_t port = server.port();
  server.Stop();
  server.Stop();
  EXPECT_EQ(Get(port, "/healthz"), "connect failed");
}

}  // namespace
}  // namespace llmproxy
