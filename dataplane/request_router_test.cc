#include "dataplane/request_router.h"

#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

TEST(MatchRoute, ProxiesTheThreePostEndpoints) {
  EXPECT_EQ(MatchRoute("POST", "/v1/chat/completions").kind, RouteKind::kProxy);
  EXPECT_EQ(MatchRoute("POST", "/v1/chat/completions").operation,
            Operation::kChatCompletions);
  EXPECT_EQ(MatchRoute("POST", "/v1/completions").operation,
            Operation::kCompletions);
  EXPECT_EQ(MatchRoute("POST", "/v1/embeddings?x=1").operation,
            Operation::kEmbeddings);
  EXPECT_EQ(MatchRoute("POST", "/v1/embeddings/").kind, RouteKind::kProxy);
}

TEST(MatchRoute, ModelsEndpoints) {
  EXPECT_EQ(MatchRoute("GET", "/v1/models").kind, RouteKind::kListModels);
  Route r = MatchRoute("GET", "/v1/models/org%2Fmodel-1");
  EXPECT_EQ(r.kind, RouteKind::kGetModel);
  EXPECT_EQ(r.model, "org/model-1");
  EXPECT_EQ(MatchRoute("GET", "/v1/models/a/b").model, "a/b");
  EXPECT_EQ(MatchRoute("HEAD", "/v1/models").kind, RouteKind::kListModels);
}

TEST(MatchRoute, WrongMethodAndUnknownPath) {
  Route r = MatchRoute("GET", "/v1/embeddings");
  EXPECT_EQ(r.kind, RouteKind::kMethodNotAllowed);
  EXPECT_EQ(r.allow, "POST");
  EXPECT_EQ(MatchRoute("POST", "/v1/models").kind,
            RouteKind::kMethodNotAllowed);
  EXPECT_EQ(MatchRoute("POST", "/v1/chat").kind, RouteKind::kNotFound);
  EXPECT_EQ(MatchRoute("GET", "/").kind, RouteKind::kNotFound);
  EXPECT_EQ(MatchRoute("POST", "/v2/chat/completions").kind,
            RouteKind::kNotFound);
}

}  // namespace
}  // namespace llmproxy::dataplane
