#include "dataplane/socket_deadline.h"

#include "dataplane/coarse_clock.h"

namespace llmproxy::dataplane {

SocketDeadline::SocketDeadline(IoExecutor executor, TcpSocket& socket)
    : state_(std::make_shared<State>(executor)) {
  state_->socket = &socket;
}

SocketDeadline::~SocketDeadline() {
  state_->socket = nullptr;
  state_->timer.cancel();
}

void SocketDeadline::ExpiresAfter(Clock::duration timeout) {
  State& s = *state_;
  s.expired = false;
  // At the tick's resolution: moved several times per request, and a
  // timeout a few milliseconds late is still the timeout.
  s.deadline = CoarseSteadyNow() + timeout;
  // A wait that ends before the deadline re-arms itself; only one that would
  // end after it (the deadline moved closer) is replaced.
  if (s.waiting && s.timer.expiry() <= s.deadline) return;
  s.timer.expires_at(s.deadline);  // cancels the wait it replaces, if any
  Wait(state_);
}

void SocketDeadline::ExpiresNever() {
  state_->deadline = Clock::time_point::max();
}

void SocketDeadline::Wait(const std::shared_ptr<State>& state) {
  state->waiting = true;
  const uint64_t generation = ++state->wait_generation;
  state->timer.async_wait(
      [state, generation](const boost::system::error_code& ec) {
        OnTimer(state, generation, ec);
      });
}

void SocketDeadline::OnTimer(const std::shared_ptr<State>& state,
                             uint64_t generation,
                             const boost::system::error_code& ec) {
  State& s = *state;
  if (generation != s.wait_generation) return;  // replaced by a closer one
  s.waiting = false;
  if (ec || s.socket == nullptr) return;  // cancelled: the owner is gone
  if (s.deadline == Clock::time_point::max()) return;
  if (Clock::now() < s.deadline) {
    s.timer.expires_at(s.deadline);
    Wait(state);
    return;
  }
  s.expired = true;
  boost::system::error_code ignored;
  s.socket->close(ignored);
}

}  // namespace llmproxy::dataplane
