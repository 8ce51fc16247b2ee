#include "dataplane/limits/limit_registry.h"

namespace llmproxy::dataplane {

LimitStatePtr LimitRegistry::Get(const std::string& scope_id,
                                 const LimitSpec& spec) {
  if (spec.unlimited()) return nullptr;
  std::lock_guard lock(mu_);
  Entry& entry = entries_[scope_id];
  auto state = std::make_shared<LimitState>();
  state->spec = spec;

  if (spec.requests_per_second > 0) {
    auto live = entry.requests.lock();
    bool same =
        live && entry.spec.requests_per_second == spec.requests_per_second &&
        entry.spec.effective_request_burst() == spec.effective_request_burst();
    state->requests = same ? live
                           : std::make_shared<TokenBucket>(
                                 spec.requests_per_second,
                                 spec.effective_request_burst(), clock_);
  }
  if (spec.tokens_per_minute > 0) {
    auto live = entry.tokens.lock();
    bool same =
        live && entry.spec.tokens_per_minute == spec.tokens_per_minute &&
        entry.spec.effective_token_burst() == spec.effective_token_burst();
    state->tokens = same ? live
                         : std::make_shared<TokenBucket>(
                               spec.tokens_per_minute / 60.0,
                               spec.effective_token_burst(), clock_);
  }
  if (spec.max_concurrent > 0) {
    state->concurrency = entry.concurrency.lock();
    if (state->concurrency) {
      state->concurrency->set_max(spec.max_concurrent);
    } else {
      state->concurrency =
          std::make_shared<ConcurrencyLimit>(spec.max_concurrent);
    }
  }

  if (spec.budget_usd > 0) {
    auto live = entry.budget.lock();
    bool same = live && entry.spec.budget_usd == spec.budget_usd &&
                entry.spec.budget_period_start == spec.budget_period_start &&
                entry.spec.fleet_spent_usd == spec.fleet_spent_usd &&
                entry.spec.fleet_size == spec.fleet_size;
    state->budget =
        same
            ? live
            : std::make_shared<BudgetAllowance>(spec.budget_allowance_micros());
  }

  entry.spec = spec;
  entry.requests = state->requests;
  entry.tokens = state->tokens;
  entry.concurrency = state->concurrency;
  entry.budget = state->budget;
  return state;
}

void LimitRegistry::Prune() {
  std::lock_guard lock(mu_);
  std::erase_if(entries_, [](const auto& kv) {
    const Entry& e = kv.second;
    return e.requests.expired() && e.tokens.expired() &&
           e.concurrency.expired() && e.budget.expired();
  });
}

}  // namespace llmproxy::dataplane
