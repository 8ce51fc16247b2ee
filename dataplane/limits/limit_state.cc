#include "dataplane/limits/limit_state.h"

#include <algorithm>
#include <cstdint>

namespace llmproxy::dataplane {

double LimitSpec::effective_request_burst() const {
  return request_burst > 0 ? request_burst : std::max(1.0, requests_per_second);
}

double LimitSpec::effective_token_burst() const {
  return static_cast<double>(token_burst > 0 ? token_burst : tokens_per_minute);
}

int64_t LimitSpec::budget_allowance_micros() const {
  double left = std::max(0.0, budget_usd - fleet_spent_usd);
  return static_cast<int64_t>(left * 1e6 / std::max(1, fleet_size));
}

}  // namespace llmproxy::dataplane
