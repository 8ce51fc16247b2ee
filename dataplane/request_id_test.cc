#include "dataplane/request_id.h"

#include <chrono>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

TEST(RequestId, IsFreshForEveryRequest) {
  std::string id = NewRequestId();
  EXPECT_EQ(id.rfind("req_", 0), 0u);
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 4), std::string::npos);
  EXPECT_NE(NewRequestId(), NewRequestId());
}

TEST(RequestId, SortsByCreationTime) {
  // The control plane's unique index on request_id stays append-mostly.
  std::string earlier = NewRequestId();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::string later = NewRequestId();
  EXPECT_LT(earlier, later);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t stamped = std::stoll(later.substr(4, 12), nullptr, 16);
  EXPECT_LE(stamped, millis);
  EXPECT_GT(stamped, millis - 60'000);
}

TEST(ClientRequestId, KeepsASaneClientId) {
  EXPECT_EQ(ClientRequestId("abc-123_x.y:z"), "abc-123_x.y:z");
}

TEST(ClientRequestId, DropsMissingOrUnsafeIds) {
  for (std::string_view bad :
       {std::string_view(""), std::string_view("a b"),
        std::string_view("x\r\ny"), std::string_view("<script>")}) {
    EXPECT_EQ(ClientRequestId(bad), "") << bad;
  }
  EXPECT_FALSE(IsSaneRequestId(std::string(129, 'a')));
}

}  // namespace
}  // namespace llmproxy::dataplane
