#pragma once

// Included only by the Beast translation units (client_session.cc,
// upstream_client.cc).
//
// Reading an HTTP message from a stream into a parser (http_parsers.h), as
// Beast's http::async_read does, but from within the caller's coroutine:
// one asynchronous operation per socket read instead of Beast's composed
// read operations stacked on top of it.

#include <cstddef>

#include "boost/asio/error.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/core/read_size.hpp"
#include "boost/beast/http/error.hpp"
#include "boost/system/error_code.hpp"
#include "dataplane/io_types.h"

namespace llmproxy::dataplane {

// What a read of `n` bytes into `buffer.prepare(...)` that ended with `ec`
// means for `parser`. At the end of the stream, the parser is told (put_eof)
// when it had started a message, which completes a body delimited by the
// connection's end or fails with partial_message; before any byte of a
// message it is end_of_stream.
template <class Parser>
boost::system::error_code AfterRead(boost::system::error_code ec, std::size_t n,
                                    boost::beast::flat_buffer& buffer,
                                    Parser& parser) {
  buffer.commit(n);
  if (ec == boost::asio::error::eof) {
    if (!parser.got_some()) return boost::beast::http::error::end_of_stream;
    boost::system::error_code eof_ec;
    parser.put_eof(eof_ec);
    return eof_ec;
  }
  return ec;
}

// How much one read may bring into `buffer` (0: the buffer is at its limit).
inline std::size_t ReadSize(boost::beast::flat_buffer& buffer) {
  return boost::beast::read_size(buffer, 65536);
}

// One read from `stream` into `buffer`, for `parser` to parse.
template <class Stream, class Parser>
Task<boost::system::error_code> ReadOnce(Stream& stream,
                                         boost::beast::flat_buffer& buffer,
                                         Parser& parser) {
  const std::size_t size = ReadSize(buffer);
  if (size == 0) co_return boost::beast::http::error::buffer_overflow;
  auto [ec, n] =
      co_await stream.async_read_some(buffer.prepare(size), kUseTuple);
  co_return AfterRead(ec, n, buffer, parser);
}

// Reads until `parser` has the whole header (header_only) or the whole
// message; bytes already in `buffer` are parsed first. (The read is written
// out rather than a co_await of ReadOnce: one coroutine frame less per
// request and direction.)
template <class Stream, class Parser>
Task<boost::system::error_code> ReadParsed(Stream& stream,
                                           boost::beast::flat_buffer& buffer,
                                           Parser& parser, bool header_only) {
  namespace http = boost::beast::http;
  auto done = [&] {
    return header_only ? parser.is_header_done() : parser.is_done();
  };
  while (!done()) {
    if (buffer.size() > 0) {
      boost::system::error_code ec;
      const std::size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec && ec != http::error::need_more) co_return ec;
      if (used > 0) continue;
    }
    const std::size_t size = ReadSize(buffer);
    if (size == 0) co_return http::error::buffer_overflow;
    auto [ec, n] =
        co_await stream.async_read_some(buffer.prepare(size), kUseTuple);
    if (auto error = AfterRead(ec, n, buffer, parser)) co_return error;
  }
  co_return boost::system::error_code{};
}

}  // namespace llmproxy::dataplane
