#pragma once

// Included only by the Beast translation units (client_session.cc,
// upstream_client.cc).

#include <cstddef>

#include "boost/asio/error.hpp"
#include "boost/system/error_code.hpp"

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

}  // namespace llmproxy::dataplane
