#pragma once

#include <atomic>

namespace llmproxy::dataplane {

// At most `max` holders at once; lock-free. The maximum can change while
// slots are held (a config push), without losing count of them.
class ConcurrencyLimit {
 public:
  explicit ConcurrencyLimit(int max) : max_(max) {}

  // Takes a slot if one is free.
  bool TryAcquire() {
    int current = in_flight_.load(std::memory_order_relaxed);
    while (current < max_.load(std::memory_order_relaxed)) {
      if (in_flight_.compare_exchange_weak(current, current + 1,
                                           std::memory_order_acq_rel)) {
        return true;
      }
    }
    return false;
  }
  void Release() { in_flight_.fetch_sub(1, std::memory_order_acq_rel); }

  int in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  int max() const { return max_.load(std::memory_order_relaxed); }
  void set_max(int max) { max_.store(max, std::memory_order_relaxed); }

 private:
  std::atomic<int> max_;
  std::atomic<int> in_flight_{0};
};

}  // namespace llmproxy::dataplane
