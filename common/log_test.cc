#include "common/log.h"

#include <gtest/gtest.h>

#include <string>

namespace llmproxy {
namespace {

TEST(Log, WritesQueuedJsonLinesInOrderByFlush) {
  testing::internal::CaptureStderr();
  for (int i = 0; i < 100; ++i) {
    log::Info("line", {{"n", std::to_string(i)}, {"quote", "a\"b"}});
  }
  log::Debug("below the minimum level");
  log::Flush();
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(out.find("below the minimum level"), std::string::npos);
  std::size_t last = 0;
  for (int i = 0; i < 100; ++i) {
    std::size_t at = out.find("\"n\":\"" + std::to_string(i) + "\"", last);
    ASSERT_NE(at, std::string::npos)
        << "line " << i << " missing or out of order";
    last = at;
  }
  EXPECT_NE(out.find("\"level\":\"info\",\"msg\":\"line\""), std::string::npos);
  EXPECT_NE(out.find("\"quote\":\"a\\\"b\""), std::string::npos);
}

TEST(Log, EnabledFollowsTheMinimumLevel) {
  EXPECT_TRUE(log::SetMinLevel("warn"));
  EXPECT_FALSE(log::Enabled(log::Level::kInfo));
  EXPECT_TRUE(log::Enabled(log::Level::kWarn));
  EXPECT_TRUE(log::Enabled(log::Level::kError));
  EXPECT_FALSE(log::SetMinLevel("loud"));
  EXPECT_FALSE(log::Enabled(log::Level::kInfo));  // unchanged
  log::SetMinLevel(log::Level::kInfo);
  EXPECT_TRUE(log::Enabled(log::Level::kInfo));
  EXPECT_FALSE(log::Enabled(log::Level::kDebug));
}

}  // namespace
}  // namespace llmproxy
