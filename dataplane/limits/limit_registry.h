#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "dataplane/limits/clock.h"
#include "dataplane/limits/limit_state.h"

namespace llmproxy::dataplane {

// Builds the LimitState of each scope for a new config snapshot, reusing the
// live bucket of every dimension whose setting did not change, so a config
// push never resets unchanged limits. A concurrency limit is always reused
// (only its maximum changes) so requests in flight stay counted. A budget
// allowance is reused while the pushed budget figures are unchanged, so a
// config push that brings no new spend figures does not grant a second share.
//
// Used while building snapshots, off the request path; thread-safe.
class LimitRegistry {
 public:
  explicit LimitRegistry(const Clock& clock) : clock_(clock) {}

  // The state for `scope_id` under `spec`; nullptr when spec is unlimited.
  LimitStatePtr Get(const std::string& scope_id, const LimitSpec& spec);

  // Forgets buckets that no snapshot holds any more.
  void Prune();

 private:
  struct Entry {
    LimitSpec spec;
    std::weak_ptr<TokenBucket> requests;
    std::weak_ptr<TokenBucket> tokens;
    std::weak_ptr<ConcurrencyLimit> concurrency;
    std::weak_ptr<BudgetAllowance> budget;
  };

  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace llmproxy::dataplane
