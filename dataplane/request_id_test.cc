#include "dataplane/request_id.h"

#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

TEST(RequestId, KeepsASaneClientId) {
  EXPECT_EQ(RequestIdFor("abc-123_x.y:z"), "abc-123_x.y:z");
}

TEST(RequestId, ReplacesMissingOrUnsafeIds) {
  for (std::string_view bad :
       {std::string_view(""), std::string_view("a b"),
        std::string_view("x\r\ny"), std::string_view("<script>")}) {
    std::string id = RequestIdFor(bad);
    EXPECT_EQ(id.rfind("req_", 0), 0u) << bad;
    EXPECT_EQ(id.size(), 28u);
  }
  EXPECT_NE(RequestIdFor(""), RequestIdFor(""));
  EXPECT_FALSE(IsSaneRequestId(std::string(129, 'a')));
}

}  // namespace
}  // namespace llmproxy::dataplane
