#pragma once

// Included only by the Beast translation units (client_session.cc,
// upstream_client.cc).

#include <cstddef>

#include "boost/beast/http/error.hpp"
#include "boost/system/error_code.hpp"

namespace llmproxy::dataplane {

// Feeds `parser` the bytes `buffer` already holds, consuming what it takes,
// until the parser is done, stops making progress, or has filled the body
// buffer it was given. No asynchronous operation: a small message usually
// arrives whole with its header, and Beast's async read would still go
// through the scheduler to hand it over. need_more and need_buffer are not
// errors here (the caller reads more, or brings a new body buffer); `ec` is
// set only for a malformed message or a limit.
template <class Parser, class DynamicBuffer>
void ParseBuffered(Parser& parser, DynamicBuffer& buffer,
                   boost::system::error_code& ec) {
  namespace http = boost::beast::http;
  while (!parser.is_done() && buffer.size() > 0) {
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_buffer) {
      ec = {};
      break;
    }
    if (ec == http::error::need_more) ec = {};
    if (ec || used == 0) break;
  }
}

}  // namespace llmproxy::dataplane
