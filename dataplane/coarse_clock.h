#pragma once

#include <time.h>

#include <chrono>

namespace llmproxy::dataplane {

// steady_clock::now() at the kernel tick's resolution, rounded up: a moment no
// earlier than now and at most two ticks (2-8 ms) later. It reads the vDSO's
// copy of the time at the last tick (CLOCK_MONOTONIC_COARSE), without the TSC
// read and scaling of a precise read, and adds two ticks: the copy lags by up
// to one tick, a little more when the tick itself is late (4.8 ms seen with a
// 4 ms tick). For timeouts of seconds, which a request moves several times
// (its sockets' deadlines, the upstream pool's idle ages): a deadline set from
// it does not pass early. Both clocks count from the same point (libstdc++'s
// steady_clock is CLOCK_MONOTONIC), so the time points mix with steady_clock's
// and its timers'.
inline std::chrono::steady_clock::time_point CoarseSteadyNow() {
  using std::chrono::nanoseconds;
  using std::chrono::seconds;
  static const nanoseconds two_ticks = [] {
    timespec tick;
    clock_getres(CLOCK_MONOTONIC_COARSE, &tick);
    return 2 * (seconds(tick.tv_sec) + nanoseconds(tick.tv_nsec));
  }();
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          seconds(ts.tv_sec) + nanoseconds(ts.tv_nsec) + two_ticks));
}

}  // namespace llmproxy::dataplane
