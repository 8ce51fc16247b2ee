#include "dataplane/request_id.h"

#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

TEST(RequestId, IsFreshForEveryRequest) {
  std::string id = NewRequestId();
  EXPECT_EQ(id.rfind("req_", 0), 0u);
  EXPECT_EQ(id.size(), 28u);
  EXPECT_NE(NewRequestId(), NewRequestId());
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
