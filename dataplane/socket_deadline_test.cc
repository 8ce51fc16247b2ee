#include "dataplane/socket_deadline.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>

#include "boost/asio/buffer.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"

namespace llmproxy::dataplane {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A connected pair of loopback sockets on one io_context; `socket` carries
// the deadline, `peer` stays silent.
class SocketDeadlineTest : public ::testing::Test {
 protected:
  SocketDeadlineTest() : socket(io), peer(io) {
    TcpAcceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    socket.connect(acceptor.local_endpoint());
    acceptor.accept(peer);
  }

  // Starts a read that only an error (the deadline's close) completes, and
  // records when it did.
  void ReadUntilClosed() {
    socket.async_read_some(
        asio::buffer(&byte, 1),
        [this](const boost::system::error_code& ec, std::size_t) {
          read_error = ec;
          closed_after = Clock::now() - start;
        });
  }
  // Runs the loop for `d`, then calls `then`.
  template <class F>
  void After(Clock::duration d, F then) {
    auto timer = std::make_shared<asio::steady_timer>(io, d);
    timer->async_wait(
        [timer, then](const boost::system::error_code&) { then(); });
  }

  asio::io_context io;
  TcpSocket socket;
  TcpSocket peer;
  char byte = 0;
  Clock::time_point start = Clock::now();
  std::optional<boost::system::error_code> read_error;
  std::optional<Clock::duration> closed_after;
};

TEST_F(SocketDeadlineTest, ClosesTheSocketWhenItPasses) {
  SocketDeadline deadline(io.get_executor(), socket);
  deadline.ExpiresAfter(50ms);
  ReadUntilClosed();
  io.run_for(5s);
  ASSERT_TRUE(read_error.has_value());
  EXPECT_TRUE(*read_error);
  EXPECT_TRUE(deadline.expired());
  EXPECT_FALSE(socket.is_open());
  EXPECT_GE(*closed_after, 50ms);
}

TEST_F(SocketDeadlineTest, MovedLaterItWaitsForTheNewDeadline) {
  SocketDeadline deadline(io.get_executor(), socket);
  deadline.ExpiresAfter(60ms);
  ReadUntilClosed();
  After(30ms, [&] { deadline.ExpiresAfter(150ms); });  // due at ~180 ms
  io.run_for(5s);
  ASSERT_TRUE(closed_after.has_value());
  EXPECT_GE(*closed_after, 180ms);
  EXPECT_TRUE(deadline.expired());
}

TEST_F(SocketDeadlineTest, MovedCloserItFiresAtTheCloserOne) {
  SocketDeadline deadline(io.get_executor(), socket);
  deadline.ExpiresAfter(1h);
  deadline.ExpiresAfter(40ms);
  ReadUntilClosed();
  io.run_for(5s);
  ASSERT_TRUE(closed_after.has_value());
  EXPECT_GE(*closed_after, 40ms);
  EXPECT_LT(*closed_after, 4s);
}

TEST_F(SocketDeadlineTest, ExpiresNeverLeavesTheSocketOpen) {
  SocketDeadline deadline(io.get_executor(), socket);
  deadline.ExpiresAfter(20ms);
  deadline.ExpiresNever();
  ReadUntilClosed();
  io.run_for(150ms);
  EXPECT_FALSE(read_error.has_value());
  EXPECT_TRUE(socket.is_open());
  EXPECT_FALSE(deadline.expired());
}

TEST_F(SocketDeadlineTest, ANewDeadlineClearsExpired) {
  SocketDeadline deadline(io.get_executor(), socket);
  deadline.ExpiresAfter(10ms);
  io.run_for(200ms);
  ASSERT_TRUE(deadline.expired());
  deadline.ExpiresAfter(1h);
  EXPECT_FALSE(deadline.expired());
}

// The session or upstream connection owning the deadline may be gone before
// its timer fires: the socket it pointed to is not touched.
TEST_F(SocketDeadlineTest, DestroyedBeforeItFiresItDoesNothing) {
  {
    SocketDeadline deadline(io.get_executor(), socket);
    deadline.ExpiresAfter(20ms);
  }
  ReadUntilClosed();
  io.run_for(150ms);
  EXPECT_FALSE(read_error.has_value());
  EXPECT_TRUE(socket.is_open());
}

}  // namespace
}  // namespace llmproxy::dataplane
