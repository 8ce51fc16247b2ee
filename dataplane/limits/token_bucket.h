#pragma once

#include <atomic>
#include <cstdint>

#include "dataplane/limits/clock.h"

namespace llmproxy::dataplane {

// A token bucket of `capacity` tokens refilled at `rate_per_second`.
//
// The state is one atomic "theoretical arrival time" (the generic cell rate
// algorithm): the bucket is full when it is in the past, and each token taken
// pushes it forward by 1/rate. Every operation is a compare-and-swap loop, so
// concurrent requests never take a lock and never overshoot: a take either
// fits what is left and happens, or does not happen at all.
class TokenBucket {
 public:
  struct Take {
    bool admitted = false;
    // When refused: how long until the request would fit.
    int64_t retry_after_nanos = 0;
    // Tokens left after the take (or now, when refused); may be negative
    // while the bucket is in debt after a settlement above the reservation.
    double remaining = 0;
    // How long until the bucket is full again.
    int64_t reset_nanos = 0;
  };

  // rate_per_second > 0, capacity >= 1. The bucket starts full.
  TokenBucket(double rate_per_second, double capacity, const Clock& clock);

  // Takes `tokens` if they fit what is left; otherwise takes nothing.
  Take TryTake(double tokens);

  // Takes (positive) or gives back (negative) tokens unconditionally, e.g. to
  // settle a reservation against the real amount. Taking may put the bucket in
  // debt, which later takes must wait out; giving back never fills it past
  // capacity.
  void Adjust(double tokens);

  // Tokens available now (negative while in debt).
  double Remaining() const;
  // Nanoseconds until the bucket is full.
  int64_t NanosUntilFull() const;

  double rate_per_second() const { return rate_per_second_; }
  double capacity() const { return capacity_; }

 private:
  int64_t CostNanos(double tokens) const;

  const Clock& clock_;
  const double rate_per_second_;
  const double capacity_;
  const double nanos_per_token_;
  // Being `tolerance_nanos_` ahead of now means the bucket is empty.
  const int64_t tolerance_nanos_;
  std::atomic<int64_t> theoretical_arrival_nanos_{0};
};

}  // namespace llmproxy::dataplane
