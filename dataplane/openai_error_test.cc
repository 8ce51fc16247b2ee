#include "dataplane/openai_error.h"

#include "boost/json/parse.hpp"
#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

TEST(ApiError, SerializesOpenAiShape) {
  boost::json::value v = boost::json::parse(MissingParameter("model").ToJson());
  const auto& e = v.at("error").as_object();
  EXPECT_EQ(e.size(), 4u);
  EXPECT_EQ(e.at("type").as_string(), "invalid_request_error");
  EXPECT_EQ(e.at("param").as_string(), "model");
  EXPECT_EQ(e.at("code").as_string(), "missing_required_parameter");
  EXPECT_TRUE(e.at("message").is_string());
}

TEST(ApiError, EmptyParamAndCodeAreNull) {
  ApiError err{400, "m\"x", "t", "", ""};
  boost::json::value v = boost::json::parse(err.ToJson());
  EXPECT_TRUE(v.at("error").at("param").is_null());
  EXPECT_TRUE(v.at("error").at("code").is_null());
  EXPECT_EQ(v.at("error").at("message").as_string(), "m\"x");
}

TEST(ApiError, StatusesMatchTheDesign) {
  EXPECT_EQ(InvalidApiKey("x").status, 401);
  EXPECT_EQ(InvalidApiKey("x").code, "invalid_api_key");
  EXPECT_EQ(ModelNotAllowed("m").status, 403);
  EXPECT_EQ(ModelNotAllowed("m").code, "model_not_allowed");
  EXPECT_EQ(ModelNotFound("m").status, 404);
  EXPECT_EQ(ModelNotFound("m").code, "model_not_found");
  EXPECT_EQ(UnknownUrl("GET", "/x").status, 404);
  EXPECT_EQ(MethodNotAllowed("GET", "/x").status, 405);
  EXPECT_EQ(InvalidJson("x").status, 400);
  EXPECT_EQ(RequestTooLarge(10).status, 413);
  EXPECT_EQ(UpstreamConnectFailed("x").status, 502);
  EXPECT_EQ(BadUpstreamResponse("x").status, 502);
  EXPECT_EQ(UpstreamTimeout("x").status, 504);
  EXPECT_EQ(NoUsableDeployment("m").status, 503);
  EXPECT_EQ(ConfigNotLoaded().status, 503);
}

}  // namespace
}  // namespace llmproxy::dataplane
