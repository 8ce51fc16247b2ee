#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <variant>

#include "dataplane/limits/limit_state.h"

namespace llmproxy::dataplane {

// What the x-ratelimit-* headers report: for requests and for tokens, the
// scope (key or assignment) with the least left.
struct RateLimitStatus {
  struct Dimension {
    bool present = false;
    double limit = 0;      // bucket capacity
    double remaining = 0;  // never reported below 0
    int64_t reset_nanos = 0;
  };
  Dimension requests;
  Dimension tokens;
};

enum class LimitKind { kRequests, kTokens, kConcurrency, kBudget };

struct LimitRefusal {
  LimitKind kind = LimitKind::kRequests;
  // Index in the scopes passed to TryAdmit of the scope that refused.
  int scope = 0;
  // How long until the request could be admitted (0 for concurrency: unknown).
  int64_t retry_after_nanos = 0;
  // The request can never fit (its token estimate exceeds the bucket size).
  bool never_fits = false;
  RateLimitStatus status;
};

// A request admitted against up to two scopes (the virtual key's limits and the
// assignment's), holding its concurrency slots and token reservation until it
// is settled and destroyed. The scopes must outlive it (they belong to the
// config snapshot the request holds).
class Admission {
 public:
  static constexpr int kMaxScopes = 2;

  // Admits against every non-null scope or none: a refusal leaves no trace in
  // any bucket. `estimated_tokens` is reserved from each tokens bucket and
  // `estimated_cost_micros` from each budget.
  static std::variant<Admission, LimitRefusal> TryAdmit(
      std::array<LimitState*, kMaxScopes> scopes, int64_t estimated_tokens,
      int64_t estimated_cost_micros = 0);

  Admission(Admission&& other) noexcept;
  Admission& operator=(Admission&&) = delete;
  Admission(const Admission&) = delete;
  ~Admission();

  // Replaces the reservation with the real token count and cost (0 gives it
  // all back, e.g. when the upstream failed before producing anything). Later
  // calls adjust again from the last settled amounts.
  void Settle(int64_t actual_tokens, int64_t actual_cost_micros = 0);

  // Headers for the response, as of admission.
  const RateLimitStatus& status() const { return status_; }

 private:
  Admission(std::array<LimitState*, kMaxScopes> scopes, int64_t tokens,
            int64_t cost_micros);

  std::array<LimitState*, kMaxScopes> scopes_{};
  int64_t charged_tokens_ = 0;
  int64_t charged_cost_micros_ = 0;
  RateLimitStatus status_;
};

}  // namespace llmproxy::dataplane
