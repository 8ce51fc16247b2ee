#include "dataplane/limits/limit_state.h"

#include <algorithm>

namespace llmproxy::dataplane {

double LimitSpec::effective_request_burst() const {
  return request_burst > 0 ? request_burst : std::max(1.0, requests_per_second);
}

double LimitSpec::effective_token_burst() const {
  return static_cast<double>(token_burst > 0 ? token_burst : tokens_per_minute);
}

}  // namespace llmproxy::dataplane
