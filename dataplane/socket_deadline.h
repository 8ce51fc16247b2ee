#pragma once

// Included only by the Beast translation units and their test.

#include <chrono>
#include <cstdint>
#include <memory>

#include "boost/asio/steady_timer.hpp"
#include "dataplane/io_types.h"

namespace llmproxy::dataplane {

// A deadline on a socket: once it passes, the socket is closed, so whatever
// operation waits on it completes with an error, and expired() says why.
//
// Moving the deadline is a clock read and a store, not a timer operation:
// the one timer behind it stays armed, and when it fires before the current
// deadline it is re-armed for that deadline. A request moves its sockets'
// deadlines several times (header, body, upstream answer, each streamed
// event), and this is what keeps each move off the timer queue and off
// timerfd_settime; the timer fires about once per timeout period.
//
// Use on the socket's own thread only.
class SocketDeadline {
 public:
  using Clock = std::chrono::steady_clock;

  SocketDeadline(IoExecutor executor, TcpSocket& socket);
  ~SocketDeadline();

  SocketDeadline(const SocketDeadline&) = delete;
  SocketDeadline& operator=(const SocketDeadline&) = delete;

  // Closes the socket `timeout` from now, unless moved again before; clears
  // expired().
  void ExpiresAfter(Clock::duration timeout);
  void ExpiresNever();

  // The deadline passed and closed the socket.
  bool expired() const { return state_->expired; }

 private:
  // Shared with the pending wait, which may complete after this object is
  // gone (its completion then does nothing).
  struct State {
    explicit State(IoExecutor executor) : timer(executor) {}
    boost::asio::basic_waitable_timer<Clock, boost::asio::wait_traits<Clock>,
                                      IoExecutor>
        timer;
    TcpSocket* socket = nullptr;  // null once the owner is gone
    Clock::time_point deadline = Clock::time_point::max();
    uint64_t wait_generation = 0;  // which wait is the current one
    bool waiting = false;
    bool expired = false;
  };

  static void Wait(const std::shared_ptr<State>& state);
  static void OnTimer(const std::shared_ptr<State>& state, uint64_t generation,
                      const boost::system::error_code& ec);

  std::shared_ptr<State> state_;
};

}  // namespace llmproxy::dataplane
