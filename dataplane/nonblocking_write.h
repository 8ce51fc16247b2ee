#pragma once

// Included only by the Beast translation units (client_session.cc,
// upstream_client.cc).

#include <cstddef>
#include <type_traits>

#include "boost/asio/buffer.hpp"
#include "boost/asio/error.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/buffers_suffix.hpp"
#include "boost/system/error_code.hpp"
#include "dataplane/io_types.h"

namespace llmproxy::dataplane {

// Writes as much of `buffers` as the socket (in non-blocking mode) takes right
// now, in one sendmsg. A head plus a small body almost always goes at once,
// which saves an asynchronous write: its operation, its timer and a trip
// through the scheduler. Returns the bytes written; the caller writes the
// rest asynchronously. `ec` is set on a real error, not when the socket is
// full.
template <class Socket, class Buffers>
std::size_t WriteNow(Socket& socket, const Buffers& buffers,
                     boost::system::error_code& ec) {
  std::size_t written = socket.write_some(buffers, ec);
  if (ec == boost::asio::error::would_block ||
      ec == boost::asio::error::try_again) {
    ec = {};
    written = 0;
  }
  return written;
}

// Writes all of `buffers` to `stream`: at once when it is a plain TCP socket
// that takes everything (WriteNow), else the rest asynchronously.
template <class Stream, class Buffers>
Task<boost::system::error_code> WriteAll(Stream& stream,
                                         const Buffers& buffers) {
  boost::system::error_code ec;
  std::size_t written = 0;
  if constexpr (std::is_same_v<Stream, TcpSocket>) {
    written = WriteNow(stream, buffers, ec);
    if (ec || written == boost::asio::buffer_size(buffers)) co_return ec;
  }
  boost::beast::buffers_suffix<Buffers> rest(buffers);
  rest.consume(written);
  auto [wec, n] = co_await boost::asio::async_write(stream, rest, kUseTuple);
  co_return wec;
}

}  // namespace llmproxy::dataplane
