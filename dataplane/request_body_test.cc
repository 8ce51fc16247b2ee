#include "dataplane/request_body.h"

#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

RequestFacts MustInspect(std::string_view body,
                         Operation op = Operation::kChatCompletions) {
  ApiError error;
  auto facts = InspectRequestBody(body, op, &error);
  EXPECT_TRUE(facts.ok()) << facts.status() << " " << error.ToJson();
  return facts.ok() ? *facts : RequestFacts{};
}

ApiError MustFail(std::string_view body,
                  Operation op = Operation::kChatCompletions) {
  ApiError error;
  auto facts = InspectRequestBody(body, op, &error);
  EXPECT_FALSE(facts.ok());
  return error;
}

TEST(InspectRequestBody, ReadsTopLevelFacts) {
  RequestFacts f = MustInspect(
      R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],)"
      R"("stream":true,"max_tokens":64,)"
      R"("stream_options":{"include_usage":true}})");
  EXPECT_EQ(f.model, "gpt-4o");
  EXPECT_TRUE(f.stream);
  ASSERT_TRUE(f.max_tokens.has_value());
  EXPECT_EQ(*f.max_tokens, 64);
  EXPECT_TRUE(f.has_stream_options);
  EXPECT_TRUE(f.stream_options_include_usage);
}

TEST(InspectRequestBody, IgnoresNestedModelAndStreamKeys) {
  RequestFacts f = MustInspect(
      R"({"messages":[{"role":"user","model":"nested","stream":true}],)"
      R"("metadata":{"model":"x"},"model":"top"})");
  EXPECT_EQ(f.model, "top");
  EXPECT_FALSE(f.stream);
  EXPECT_FALSE(f.max_tokens.has_value());
}

TEST(InspectRequestBody, DecodesEscapedModel) {
  RequestFacts f = MustInspect(R"({"model":"a\"b\u00e9","messages":[]})");
  EXPECT_EQ(f.model, "a\"b\xc3\xa9");
}

TEST(InspectRequestBody, MeasuresThePromptValueAcrossEscapes) {
  // The prompt's value is measured byte for byte: escaped quotes do not end
  // a string, an escaped backslash before a quote does not escape it, and
  // brackets inside strings do not nest.
  const std::string messages =
      R"([{"role":"user","content":"a \"quoted\" ] } word\\"},)"
      R"({"role":"user","content":"\\\\"},{"content":"x\\\"y"}])";
  RequestFacts f = MustInspect(R"({"model":"m","messages":)" + messages +
                               R"(,"n":"after \" } ]"})");
  EXPECT_EQ(f.prompt_bytes, messages.size());
  EXPECT_EQ(MustInspect(R"({"messages":"","model":"m"})").prompt_bytes, 2u);
}

TEST(InspectRequestBody, MeasuresThePromptWhereverItStands) {
  // Each body holds the prompt value V once (or last); keys before or after
  // it may be escaped, which the measurement must survive.
  const std::string v = R"([{"role":"user","content":"a, \"b\" }"}])";
  struct Case {
    std::string body;
    Operation op = Operation::kChatCompletions;
  };
  const Case cases[] = {
      {R"({"model":"m","messages":)" + v + "}"},
      {"{\"model\":\"m\",\n \"messages\" :\t" + v + " \n}\n"},
      {R"({"messages":)" + v + R"( , "model":"m"})"},
      {R"({"messages":)" + v + R"(,"m\u006fdel":"m"})"},
      {R"({"m\u0065ssages":)" + v + R"(,"model":"m"})"},
      {R"({"messages":[1],"model":"m","messages":)" + v + "}"},
      {R"({"messages":[1],"x\u0041":0,"messages":)" + v + R"(,"model":"m"})"},
      {R"({"model":"m","prompt":)" + v + "}", Operation::kCompletions},
      {R"({"input":)" + v + R"(,"model":"m"})", Operation::kEmbeddings},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    EXPECT_EQ(MustInspect(c.body, c.op).prompt_bytes, v.size());
  }
}

TEST(InspectRequestBody, LocatesAPlainModelString) {
  const std::string body = R"({"messages":[],  "model" : "alias" ,"n":1})";
  RequestFacts f = MustInspect(body);
  ASSERT_TRUE(f.model_value.has_value());
  EXPECT_EQ(body.substr(f.model_value->begin,
                        f.model_value->end - f.model_value->begin),
            R"("alias")");
}

TEST(InspectRequestBody, DoesNotLocateAnEscapedOrRepeatedModel) {
  EXPECT_FALSE(
      MustInspect(R"({"model":"a\"b","messages":[]})").model_value.has_value());
  EXPECT_FALSE(MustInspect(R"({"model":"a","model":"b","messages":[]})")
                   .model_value.has_value());
  EXPECT_FALSE(MustInspect(R"({"model":{},"model":"b","messages":[]})")
                   .model_value.has_value());
}

TEST(InspectRequestBody, StreamNullMeansNotStreaming) {
  RequestFacts f = MustInspect(R"({"model":"m","messages":[],"stream":null})");
  EXPECT_FALSE(f.stream);
}

TEST(InspectRequestBody, RejectsMalformedJson) {
  ApiError e = MustFail(R"({"model":"m","messages":[})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.code, "invalid_json");
  EXPECT_EQ(MustFail(R"({"model":"m","messages":[]} x)").code, "invalid_json");
  EXPECT_EQ(MustFail("").code, "invalid_json");
}

TEST(InspectRequestBody, RejectsNonObject) {
  EXPECT_EQ(MustFail("[1,2]").status, 400);
}

TEST(InspectRequestBody, NamesTheMissingParameter) {
  ApiError e = MustFail(R"({"messages":[]})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "model");
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_EQ(MustFail(R"({"model":"m"})").param, "messages");
  EXPECT_EQ(MustFail(R"({"model":"m"})", Operation::kCompletions).param,
            "prompt");
  EXPECT_EQ(MustFail(R"({"model":"m"})", Operation::kEmbeddings).param,
            "input");
  EXPECT_EQ(MustFail(R"({"model":7,"messages":[]})").param, "model");
  EXPECT_EQ(MustFail(R"({"model":"m","messages":[],"stream":"yes"})").param,
            "stream");
}

TEST(InspectRequestBody, AcceptsEmbeddingsAndCompletions) {
  EXPECT_EQ(
      MustInspect(R"({"model":"e","input":["a","b"]})", Operation::kEmbeddings)
          .model,
      "e");
  EXPECT_EQ(
      MustInspect(R"({"model":"c","prompt":"x"})", Operation::kCompletions)
          .model,
      "c");
}

TEST(SpliceModel, ReplacesOnlyTheTopLevelValue) {
  std::string body =
      R"({"messages":[{"model":"keep"}],"model":"alias","x":{"model":"k"}})";
  EXPECT_EQ(
      SpliceModel(body, "remote-1"),
      R"({"messages":[{"model":"keep"}],"model":"remote-1","x":{"model":"k"}})");
}

TEST(SpliceModel, KeepsWhitespaceAndOtherBytes) {
  std::string body = "{\n  \"model\" :  \"a\",\n  \"messages\": [ ]\n}\n";
  EXPECT_EQ(SpliceModel(body, "b"),
            "{\n  \"model\" :  \"b\",\n  \"messages\": [ ]\n}\n");
}

TEST(SpliceModel, HandlesEscapesInValuesAndKeys) {
  // An escaped quote in an earlier string must not end it early; the new
  // name is escaped as JSON.
  std::string body =
      R"({"note":"say \"model\": x","model":"old\"name","m\u006fdel2":1})";
  EXPECT_EQ(
      SpliceModel(body, "new\"one\\"),
      R"({"note":"say \"model\": x","model":"new\"one\\","m\u006fdel2":1})");
  // A key spelled with an escape is still the key "model".
  EXPECT_EQ(SpliceModel(R"({"m\u006fdel":"a"})", "b"), R"({"m\u006fdel":"b"})");
}

TEST(SpliceModel, QuotesEveryNameAsJson) {
  for (std::string_view name :
       {std::string_view("plain-1"), std::string_view("tab\there"),
        std::string_view("nul\0in", 6), std::string_view("mod\xC3\xA8le"),
        std::string_view("back\\slash"), std::string_view("")}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(SpliceModel(R"({"model":"a"})", name),
              "{\"model\":" + JsonQuote(name) + "}");
  }
}

TEST(SpliceModel, SkipsNestedStructuresWithBracketsInStrings) {
  std::string body =
      R"({"messages":[{"content":"} ] { ["}],"model":"a","n":[1,{"model":2}]})";
  EXPECT_EQ(
      SpliceModel(body, "z"),
      R"({"messages":[{"content":"} ] { ["}],"model":"z","n":[1,{"model":2}]})");
}

TEST(SpliceModel, RoundTripsThroughInspection) {
  std::string body = R"({"model":"alias","messages":[],"stream":true})";
  std::string spliced = SpliceModel(body, "gpt-4o-mini");
  EXPECT_EQ(MustInspect(spliced).model, "gpt-4o-mini");
  EXPECT_TRUE(MustInspect(spliced).stream);
}

TEST(SpliceModel, GivesTheSameBodyWithTheModelsPlaceKnown) {
  for (std::string_view body :
       {std::string_view(R"({"model":"alias","messages":[]})"),
        std::string_view(R"({"messages":[{"model":"x"}], "model" : "a" })"),
        std::string_view(R"({"model":"a\"b","messages":[]})"),
        std::string_view(R"({"model":"a","messages":[],"model":"b"})"),
        std::string_view(R"({"m\u006fdel":"a","messages":[]})")}) {
    SCOPED_TRACE(body);
    const RequestFacts f = MustInspect(body);
    for (std::string_view name : {"remote-1", "needs \"escaping\""}) {
      EXPECT_EQ(SpliceModel(body, name, f.model_value),
                SpliceModel(body, name));
    }
  }
}

TEST(InjectIncludeUsage, AddsStreamOptionsWhenAbsent) {
  auto out = InjectIncludeUsage(R"({"model":"m","stream":true})");
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(
      *out,
      R"({"stream_options":{"include_usage":true},"model":"m","stream":true})");
  ApiError error;
  auto facts = InspectRequestBody(*out, Operation::kCompletions, &error);
  EXPECT_EQ(error.param, "prompt");  // valid JSON; only the prompt is missing
}

TEST(InjectIncludeUsage, ExtendsAnExistingObject) {
  EXPECT_EQ(*InjectIncludeUsage(R"({"stream_options":{},"model":"m"})"),
            R"({"stream_options":{"include_usage":true},"model":"m"})");
  EXPECT_EQ(*InjectIncludeUsage(R"({"stream_options":{"x":1}})"),
            R"({"stream_options":{"include_usage":true,"x":1}})");
  EXPECT_EQ(*InjectIncludeUsage(R"({"stream_options":null})"),
            R"({"stream_options":{"include_usage":true}})");
  // An explicit false is turned into true (the proxy strips the usage).
  EXPECT_EQ(*InjectIncludeUsage(
                R"({"stream_options":{"include_usage":false},"model":"m"})"),
            R"({"stream_options":{"include_usage":true},"model":"m"})");
  EXPECT_FALSE(
      InjectIncludeUsage(R"({"stream_options":{"include_usage":"yes"}})")
          .has_value());
}

TEST(IsUsageOnlyChunk, RecognisesTheFinalUsageChunk) {
  EXPECT_TRUE(IsUsageOnlyChunk(
      R"({"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}})"));
  EXPECT_FALSE(IsUsageOnlyChunk(
      R"({"id":"c","choices":[{"delta":{"content":"x"}}],"usage":null})"));
  EXPECT_FALSE(IsUsageOnlyChunk("[DONE]"));
  EXPECT_FALSE(IsUsageOnlyChunk(R"({"choices":[]})"));
}

}  // namespace
}  // namespace llmproxy::dataplane
