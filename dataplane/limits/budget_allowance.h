#pragma once

#include <atomic>
#include <cstdint>

namespace llmproxy::dataplane {

// The spend one data plane may let through until the control plane pushes new
// fleet-wide spend figures: its share, (budget - fleet spend) / fleet size.
// Amounts are micro-US-dollars; lock-free like the token buckets, and like
// them a reservation either fits what is left or is refused.
class BudgetAllowance {
 public:
  explicit BudgetAllowance(int64_t allowance_micros)
      : allowance_micros_(allowance_micros) {}

  // Reserves `micros` if they fit what is left.
  bool TryReserve(int64_t micros) {
    int64_t spent = spent_micros_.load(std::memory_order_relaxed);
    while (spent + micros <= allowance_micros_) {
      if (spent_micros_.compare_exchange_weak(spent, spent + micros,
                                              std::memory_order_acq_rel)) {
        return true;
      }
    }
    return false;
  }
  // Settles a reservation against the real cost (delta may be negative).
  void Adjust(int64_t delta_micros) {
    spent_micros_.fetch_add(delta_micros, std::memory_order_acq_rel);
  }

  int64_t allowance_micros() const { return allowance_micros_; }
  int64_t remaining_micros() const {
    return allowance_micros_ - spent_micros_.load(std::memory_order_relaxed);
  }

 private:
  const int64_t allowance_micros_;
  std::atomic<int64_t> spent_micros_{0};
};

}  // namespace llmproxy::dataplane
