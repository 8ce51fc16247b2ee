#include "common/host_port.h"

#include <gtest/gtest.h>

namespace llmproxy {
namespace {

TEST(ParseHostPort, SplitsHostAndPort) {
  auto hp = ParseHostPort("127.0.0.1:8080");
  ASSERT_TRUE(hp.ok()) << hp.status();
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 8080);
}

TEST(ParseHostPort, UnwrapsIpv6AndDefaultsToEveryInterface) {
  EXPECT_EQ(ParseHostPort("[::1]:9091")->host, "::1");
  EXPECT_EQ(ParseHostPort(":0")->host, "0.0.0.0");
}

TEST(ParseHostPort, RefusesAMissingOrInvalidPort) {
  for (const char* bad :
       {"localhost", "host:", "host:http", "host:70000", "host:80x"}) {
    EXPECT_EQ(ParseHostPort(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(IsLoopbackHost, KnowsTheLocalNames) {
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("LOCALHOST"));
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost(""));
}

}  // namespace
}  // namespace llmproxy
