#include "dataplane/http_parsers.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "boost/asio/buffer.hpp"
#include "boost/beast/http/error.hpp"

namespace llmproxy::dataplane {
namespace {

namespace http = boost::beast::http;
using boost::system::error_code;

// Feeds `text` to `parser` the way the read loop does: `step` bytes arrive at
// a time, and whatever the parser leaves stays for the next put. Returns the
// first error other than need_more (and need_buffer, which `on_full`
// answers), or success once the parser is done or the text is used up.
template <class Parser, class OnFull>
error_code Feed(Parser& parser, std::string_view text, std::size_t step,
                OnFull on_full) {
  std::string pending;
  std::size_t next = 0;
  while (!parser.is_done()) {
    if (next < text.size()) {
      pending.append(text.substr(next, step));
      next += step;
    }
    error_code ec;
    const std::size_t used =
        parser.put(boost::asio::buffer(pending.data(), pending.size()), ec);
    pending.erase(0, used);
    if (ec == http::error::need_buffer) {
      on_full();
      continue;
    }
    if (ec && ec != http::error::need_more) return ec;
    if (used == 0 && next >= text.size()) break;
  }
  return {};
}

template <class Parser>
error_code Feed(Parser& parser, std::string_view text, std::size_t step) {
  return Feed(parser, text, step, [] {});
}

std::vector<std::pair<std::string, std::string>> All(
    const HeaderFields& fields) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto [name, value] : fields) out.emplace_back(name, value);
  return out;
}

constexpr std::string_view kChatRequest =
    "POST /v1/chat/completions?x=1 HTTP/1.1\r\n"
    "Host: gw\r\n"
    "Authorization: Bearer sk-1\r\n"
    "X-Empty:\r\n"
    "x-request-id: first\r\n"
    "X-Request-Id: second\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "{\"model\":\"m\"}";

TEST(RequestParser, ReadsRequestLineFieldsAndBodyWhateverTheSlicing) {
  for (std::size_t step :
       {std::size_t{1}, std::size_t{7}, kChatRequest.size()}) {
    SCOPED_TRACE(step);
    RequestParser parser;
    ASSERT_FALSE(Feed(parser, kChatRequest, step));
    ASSERT_TRUE(parser.is_done());
    EXPECT_EQ(parser.method(), http::verb::post);
    EXPECT_EQ(parser.method_string(), "POST");
    EXPECT_EQ(parser.target(), "/v1/chat/completions?x=1");
    EXPECT_TRUE(parser.keep_alive());
    EXPECT_EQ(parser.body(), "{\"model\":\"m\"}");
    EXPECT_EQ(All(parser.fields()),
              (std::vector<std::pair<std::string, std::string>>{
                  {"Host", "gw"},
                  {"Authorization", "Bearer sk-1"},
                  {"X-Empty", ""},
                  {"x-request-id", "first"},
                  {"X-Request-Id", "second"},
                  {"Content-Length", "13"}}));
  }
}

TEST(RequestParser, LooksFieldsUpIgnoringCaseFirstOneWins) {
  RequestParser parser;
  ASSERT_FALSE(Feed(parser, kChatRequest, kChatRequest.size()));
  EXPECT_EQ(parser.fields().Get("authorization"), "Bearer sk-1");
  EXPECT_EQ(parser.fields().Get("X-REQUEST-ID"), "first");
  EXPECT_EQ(parser.fields().Get("x-empty"), "");
  EXPECT_EQ(parser.fields().Get("api-key"), "");
}

TEST(RequestParser, ReadsAChunkedBody) {
  RequestParser parser;
  ASSERT_FALSE(Feed(parser,
                    "POST /v1/embeddings HTTP/1.1\r\nHost: gw\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n"
                    "5\r\n{\"a\":\r\n3;ext=1\r\n1}\n\r\n0\r\n\r\n",
                    3));
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(parser.body(), "{\"a\":1}\n");
}

TEST(RequestParser, HeaderIsDoneBeforeTheBodyArrives) {
  RequestParser parser;
  parser.eager(false);
  std::string_view header = kChatRequest.substr(0, kChatRequest.find("{"));
  error_code ec;
  parser.put(boost::asio::buffer(header.data(), header.size()), ec);
  EXPECT_FALSE(ec);
  EXPECT_TRUE(parser.is_header_done());
  EXPECT_FALSE(parser.is_done());
  EXPECT_EQ(parser.content_length().value_or(0), 13u);
}

// What the parser has taken may be gone from the read buffer before the
// rest of the header arrives: the request line it keeps is its own copy.
TEST(RequestParser, PartialHeaderNeedsMoreAndKeepsWhatItTook) {
  RequestParser parser;
  std::string first = "GET /v1/models/m HTTP/1.1\r\nHost:";
  error_code ec;
  const std::size_t used =
      parser.put(boost::asio::buffer(first.data(), first.size()), ec);
  EXPECT_EQ(ec, http::error::need_more);
  std::string rest = first.substr(used) + " gw\r\n\r\n";
  first.assign(first.size(), '#');  // the read buffer is reused
  ec = {};
  parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
  EXPECT_FALSE(ec);
  EXPECT_TRUE(parser.is_done());
  EXPECT_EQ(parser.method_string(), "GET");
  EXPECT_EQ(parser.target(), "/v1/models/m");
  EXPECT_EQ(parser.fields().Get("host"), "gw");
}

TEST(RequestParser, ConnectionCloseAndHttp10EndKeepAlive) {
  RequestParser close;
  ASSERT_FALSE(
      Feed(close, "GET /v1/models HTTP/1.1\r\nConnection: close\r\n\r\n", 64));
  EXPECT_FALSE(close.keep_alive());
  RequestParser old;
  ASSERT_FALSE(Feed(old, "GET /v1/models HTTP/1.0\r\n\r\n", 64));
  EXPECT_FALSE(old.keep_alive());
}

TEST(RequestParser, RefusesADeclaredBodyAboveTheLimitWithTheHeader) {
  RequestParser parser;
  parser.body_limit(10);
  EXPECT_EQ(
      Feed(parser, "POST /v1/x HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 64),
      http::error::body_limit);
}

TEST(RequestParser, RefusesAChunkedBodyGrowingAboveTheLimit) {
  RequestParser parser;
  parser.body_limit(10);
  EXPECT_EQ(Feed(parser,
                 "POST /v1/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "6\r\n123456\r\n6\r\n123456\r\n0\r\n\r\n",
                 64),
            http::error::body_limit);
}

TEST(RequestParser, RefusesAHeaderAboveTheLimit) {
  RequestParser parser;
  parser.header_limit(64);
  std::string request =
      "GET /v1/models HTTP/1.1\r\nX-Big: " + std::string(100, 'a') + "\r\n\r\n";
  EXPECT_EQ(Feed(parser, request, request.size()), http::error::header_limit);
}

TEST(RequestParser, RefusesMalformedInput) {
  for (std::string_view bad :
       {"POST /v1/x HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
        "POST /v1/x HTTP/9.9\r\n\r\n", "NOT A REQUEST\r\n\r\n",
        "POST /v1/x HTTP/1.1\r\nBad Name: v\r\n\r\n"}) {
    SCOPED_TRACE(bad);
    RequestParser parser;
    error_code ec = Feed(parser, bad, bad.size());
    EXPECT_TRUE(ec);
    EXPECT_EQ(ec.category(),
              make_error_code(http::error::bad_target).category());
  }
}

TEST(ResponseParser, ReadsStatusAndFields) {
  ResponseParser parser;
  char body[16];
  parser.SetBodyBuffer(body, sizeof body);
  ASSERT_FALSE(Feed(parser,
                    "HTTP/1.1 429 Too Many Requests\r\nContent-Type: "
                    "application/json\r\nRetry-After: 2\r\nContent-Length: "
                    "2\r\n\r\n{}",
                    5));
  EXPECT_EQ(parser.status(), 429);
  EXPECT_EQ(parser.fields().Get("content-type"), "application/json");
  EXPECT_EQ(parser.fields().Get("retry-after"), "2");
  EXPECT_EQ(std::string_view(body, sizeof body - parser.body_space()), "{}");
}

// The body goes into the caller's buffers: when one is full the parser stops
// (need_buffer) and keeps the rest for the next one, for a sized body and a
// chunked one alike.
TEST(ResponseParser, FillsOneBodyBufferAfterAnother) {
  const std::string body(50, 'x');
  const std::string sized =
      "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n" + body;
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "1e\r\n" +
      body.substr(0, 30) + "\r\n14\r\n" + body.substr(30) + "\r\n0\r\n\r\n";
  for (const std::string& response : {sized, chunked}) {
    for (std::size_t step : {std::size_t{1}, std::size_t{9}, response.size()}) {
      SCOPED_TRACE(response.substr(0, 40) + " step " + std::to_string(step));
      ResponseParser parser;
      std::string received;
      char piece[8];
      parser.SetBodyBuffer(piece, sizeof piece);
      auto collect = [&] {
        received.append(piece, sizeof piece - parser.body_space());
        parser.SetBodyBuffer(piece, sizeof piece);
      };
      ASSERT_FALSE(Feed(parser, response, step, collect));
      collect();
      EXPECT_TRUE(parser.is_done());
      EXPECT_EQ(received, body);
    }
  }
}

TEST(ResponseParser, WithoutABufferTheBodyWaits) {
  ResponseParser parser;
  constexpr std::string_view response =
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  error_code ec;
  std::size_t used =
      parser.put(boost::asio::buffer(response.data(), response.size()), ec);
  ASSERT_FALSE(ec);
  ASSERT_TRUE(parser.is_header_done());
  std::string_view rest = response.substr(used);
  used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
  EXPECT_EQ(ec, http::error::need_buffer);
  EXPECT_EQ(used, 0u);
}

TEST(ResponseParser, BodyUntilTheConnectionEndsCompletesAtEof) {
  ResponseParser parser;
  char body[16];
  parser.SetBodyBuffer(body, sizeof body);
  ASSERT_FALSE(
      Feed(parser, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello", 100));
  EXPECT_FALSE(parser.is_done());
  error_code ec;
  parser.put_eof(ec);
  EXPECT_FALSE(ec);
  EXPECT_TRUE(parser.is_done());
  EXPECT_FALSE(parser.keep_alive());
  EXPECT_EQ(std::string_view(body, sizeof body - parser.body_space()), "hello");
}

TEST(ResponseParser, EofInsideASizedBodyIsAPartialMessage) {
  ResponseParser parser;
  char body[16];
  parser.SetBodyBuffer(body, sizeof body);
  ASSERT_FALSE(
      Feed(parser, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhel", 100));
  error_code ec;
  parser.put_eof(ec);
  EXPECT_EQ(ec, http::error::partial_message);
}

TEST(HeaderFields, KeepsFieldsInOrderPastItsTypicalSize) {
  HeaderFields fields;
  std::vector<std::pair<std::string, std::string>> added;
  for (int i = 0; i < 40; ++i) {
    added.emplace_back("X-Field-" + std::to_string(i),
                       std::string(30, 'a' + i % 26));
    fields.Add(added.back().first, added.back().second);
  }
  EXPECT_EQ(fields.size(), 40u);
  EXPECT_EQ(All(fields), added);
  EXPECT_EQ(fields.Get("x-field-39"), std::string(30, 'a' + 39 % 26));
}

}  // namespace
}  // namespace llmproxy::dataplane
