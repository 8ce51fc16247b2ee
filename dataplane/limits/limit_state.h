#pragma once

#include <cstdint>
#include <memory>

#include "dataplane/limits/budget_allowance.h"
#include "dataplane/limits/concurrency_limit.h"
#include "dataplane/limits/token_bucket.h"

namespace llmproxy::dataplane {

// The configured limits of one scope (a virtual key or an assignment). Zero
// means unlimited in each dimension.
struct LimitSpec {
  double requests_per_second = 0;
  double request_burst = 0;  // 0: max(1, requests_per_second)
  int64_t tokens_per_minute = 0;
  int64_t token_burst = 0;  // 0: tokens_per_minute
  int32_t max_concurrent = 0;
  // Spend budget in USD for the current period, with the fleet-wide figures
  // the control plane pushed: spend so far and the number of data planes
  // sharing what is left.
  double budget_usd = 0;
  int64_t budget_period_start = 0;
  double fleet_spent_usd = 0;
  int32_t fleet_size = 1;

  bool unlimited() const {
    return requests_per_second <= 0 && tokens_per_minute <= 0 &&
           max_concurrent <= 0 && budget_usd <= 0;
  }
  // This data plane's share of what is left of the budget, micro-USD.
  int64_t budget_allowance_micros() const;
  // Bucket sizes with the defaults applied.
  double effective_request_burst() const;
  double effective_token_burst() const;

  friend bool operator==(const LimitSpec&, const LimitSpec&) = default;
};

// The live counters of one scope's limits, each shared with the previous
// config snapshot when its own setting did not change (see LimitRegistry).
struct LimitState {
  LimitSpec spec;
  std::shared_ptr<TokenBucket> requests;          // null: unlimited
  std::shared_ptr<TokenBucket> tokens;            // null: unlimited
  std::shared_ptr<ConcurrencyLimit> concurrency;  // null: unlimited
  std::shared_ptr<BudgetAllowance> budget;        // null: unlimited
};

using LimitStatePtr = std::shared_ptr<LimitState>;

}  // namespace llmproxy::dataplane
