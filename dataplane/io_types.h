#pragma once

// The Asio types of the data plane's I/O threads. Included only by the Beast
// translation units (client_session.cc, upstream_client.cc, http_server.cc).
//
// Each I/O thread runs its own io_context, so every socket, timer and
// coroutine names that context's executor type instead of the type-erased
// any_io_executor: each asynchronous operation then skips the executor's
// indirect calls and copies.

#include "boost/asio/as_tuple.hpp"
#include "boost/asio/awaitable.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/use_awaitable.hpp"

namespace llmproxy::dataplane {

using IoExecutor = boost::asio::io_context::executor_type;

// A coroutine on an I/O thread.
template <typename T = void>
using Task = boost::asio::awaitable<T, IoExecutor>;

using TcpSocket =
    boost::asio::basic_stream_socket<boost::asio::ip::tcp, IoExecutor>;
using TcpAcceptor =
    boost::asio::basic_socket_acceptor<boost::asio::ip::tcp, IoExecutor>;
using TcpResolver =
    boost::asio::ip::basic_resolver<boost::asio::ip::tcp, IoExecutor>;

// Completion token of an operation awaited in a Task: the error code comes
// back as part of a tuple instead of being thrown.
inline constexpr auto kUseTuple =
    boost::asio::as_tuple(boost::asio::use_awaitable_t<IoExecutor>{});

// `co_await YieldThread()` resumes after the handlers already queued on this
// thread have run and the sockets have been polled again. Before a read whose
// bytes are due any moment (a keep-alive client's next request, the answer to
// a request just sent) that gives them time to arrive while other requests
// are served: the read then succeeds at once. Started at once it would fail
// with EAGAIN first (Asio tries each read before it waits) and take a second
// system call when the socket turns readable.
inline auto YieldThread() {
  return boost::asio::post(boost::asio::use_awaitable_t<IoExecutor>{});
}

}  // namespace llmproxy::dataplane
