#include "dataplane/limits/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace llmproxy::dataplane {

TokenBucket::TokenBucket(double rate_per_second, double capacity,
                         const Clock& clock)
    : clock_(clock),
      rate_per_second_(rate_per_second),
      capacity_(capacity),
      nanos_per_token_(1e9 / rate_per_second),
      tolerance_nanos_(std::llround(capacity * nanos_per_token_)) {}

int64_t TokenBucket::CostNanos(double tokens) const {
  return std::llround(tokens * nanos_per_token_);
}

TokenBucket::Take TokenBucket::TryTake(double tokens) {
  const int64_t cost = CostNanos(tokens);
  int64_t tat = theoretical_arrival_nanos_.load(std::memory_order_relaxed);
  while (true) {
    const int64_t now = clock_.NowNanos();
    const int64_t new_tat = std::max(tat, now) + cost;
    const int64_t ahead = new_tat - now;
    if (ahead > tolerance_nanos_) {
      Take refused;
      refused.retry_after_nanos = ahead - tolerance_nanos_;
      const int64_t current_ahead = std::max<int64_t>(tat - now, 0);
      refused.remaining = (tolerance_nanos_ - current_ahead) / nanos_per_token_;
      refused.reset_nanos = current_ahead;
      return refused;
    }
    if (theoretical_arrival_nanos_.compare_exchange_weak(
            tat, new_tat, std::memory_order_acq_rel,
            std::memory_order_relaxed)) {
      Take taken;
      taken.admitted = true;
      taken.remaining = (tolerance_nanos_ - ahead) / nanos_per_token_;
      taken.reset_nanos = ahead;
      return taken;
    }
  }
}

void TokenBucket::Adjust(double tokens) {
  const int64_t delta = CostNanos(tokens);
  int64_t tat = theoretical_arrival_nanos_.load(std::memory_order_relaxed);
  while (true) {
    const int64_t now = clock_.NowNanos();
    // Measured from max(tat, now): time already refilled cannot be taken back,
    // and a refund cannot make the bucket fuller than full.
    const int64_t new_tat = std::max(tat, now) + delta;
    if (theoretical_arrival_nanos_.compare_exchange_weak(
            tat, new_tat, std::memory_order_acq_rel,
            std::memory_order_relaxed)) {
      return;
    }
  }
}

double TokenBucket::Remaining() const {
  const int64_t now = clock_.NowNanos();
  const int64_t ahead = std::max<int64_t>(
      theoretical_arrival_nanos_.load(std::memory_order_relaxed) - now, 0);
  return (tolerance_nanos_ - ahead) / nanos_per_token_;
}

int64_t TokenBucket::NanosUntilFull() const {
  return std::max<int64_t>(
      theoretical_arrival_nanos_.load(std::memory_order_relaxed) -
          clock_.NowNanos(),
      0);
}

}  // namespace llmproxy::dataplane
