#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace llmproxy::dataplane {

// Source of monotonic time for limits, injected so tests drive time instead of
// sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds on a monotonic scale (the origin is arbitrary).
  virtual int64_t NowNanos() const = 0;
};

// The real clock: std::chrono::steady_clock.
class SteadyClock final : public Clock {
 public:
  int64_t NowNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  // One shared instance; it has no state.
  static const SteadyClock& Get() {
    static const SteadyClock clock;
    return clock;
  }
};

// A clock that moves only when told to; for tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_nanos = 1'000'000'000'000)
      : now_(start_nanos) {}
  int64_t NowNanos() const override { return now_.load(); }
  void Advance(std::chrono::nanoseconds d) { now_ += d.count(); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace llmproxy::dataplane
