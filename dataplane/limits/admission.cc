#include "dataplane/limits/admission.h"

#include <algorithm>
#include <cstdint>

namespace llmproxy::dataplane {
namespace {

// Keeps, per dimension, the bucket with the least remaining.
void Report(RateLimitStatus::Dimension& dim, const TokenBucket& bucket,
            double remaining, int64_t reset_nanos) {
  if (dim.present && dim.remaining <= remaining) return;
  dim.present = true;
  dim.limit = bucket.capacity();
  dim.remaining = std::max(0.0, remaining);
  dim.reset_nanos = reset_nanos;
}

void ReportCurrent(RateLimitStatus& status,
                   const std::array<LimitState*, Admission::kMaxScopes>& s) {
  for (LimitState* scope : s) {
    if (scope == nullptr) continue;
    if (TokenBucket* b = scope->requests.get()) {
      Report(status.requests, *b, b->Remaining(), b->NanosUntilFull());
    }
    if (TokenBucket* b = scope->tokens.get()) {
      Report(status.tokens, *b, b->Remaining(), b->NanosUntilFull());
    }
  }
}

}  // namespace

std::variant<Admission, LimitRefusal> Admission::TryAdmit(
    std::array<LimitState*, kMaxScopes> scopes, int64_t estimated_tokens,
    int64_t estimated_cost_micros) {
  // Each step records what it took so a later refusal can undo it.
  int requests_taken = 0, tokens_taken = 0, slots_taken = 0, budgets_taken = 0;
  auto undo = [&] {
    for (int i = 0; i < budgets_taken; ++i) {
      if (scopes[i] && scopes[i]->budget) {
        scopes[i]->budget->Adjust(-estimated_cost_micros);
      }
    }
    for (int i = 0; i < slots_taken; ++i) {
      if (scopes[i] && scopes[i]->concurrency) {
        scopes[i]->concurrency->Release();
      }
    }
    for (int i = 0; i < tokens_taken; ++i) {
      if (scopes[i] && scopes[i]->tokens) {
        scopes[i]->tokens->Adjust(-static_cast<double>(estimated_tokens));
      }
    }
    for (int i = 0; i < requests_taken; ++i) {
      if (scopes[i] && scopes[i]->requests) scopes[i]->requests->Adjust(-1);
    }
  };
  auto refuse = [&](LimitKind kind, int scope, const TokenBucket::Take* take,
                    bool never_fits) {
    undo();
    LimitRefusal refusal;
    refusal.kind = kind;
    refusal.scope = scope;
    refusal.never_fits = never_fits;
    refusal.retry_after_nanos = take ? take->retry_after_nanos : 0;
    ReportCurrent(refusal.status, scopes);
    return refusal;
  };

  RateLimitStatus status;
  for (; requests_taken < kMaxScopes; ++requests_taken) {
    LimitState* scope = scopes[requests_taken];
    if (scope == nullptr || scope->requests == nullptr) continue;
    TokenBucket::Take take = scope->requests->TryTake(1);
    if (!take.admitted) {
      return refuse(LimitKind::kRequests, requests_taken, &take, false);
    }
    Report(status.requests, *scope->requests, take.remaining, take.reset_nanos);
  }
  for (; tokens_taken < kMaxScopes; ++tokens_taken) {
    LimitState* scope = scopes[tokens_taken];
    if (scope == nullptr || scope->tokens == nullptr) continue;
    TokenBucket* bucket = scope->tokens.get();
    TokenBucket::Take take =
        bucket->TryTake(static_cast<double>(estimated_tokens));
    if (!take.admitted) {
      return refuse(LimitKind::kTokens, tokens_taken, &take,
                    static_cast<double>(estimated_tokens) > bucket->capacity());
    }
    Report(status.tokens, *bucket, take.remaining, take.reset_nanos);
  }
  for (; slots_taken < kMaxScopes; ++slots_taken) {
    LimitState* scope = scopes[slots_taken];
    if (scope == nullptr || scope->concurrency == nullptr) continue;
    if (!scope->concurrency->TryAcquire()) {
      return refuse(LimitKind::kConcurrency, slots_taken, nullptr, false);
    }
  }
  for (; budgets_taken < kMaxScopes; ++budgets_taken) {
    LimitState* scope = scopes[budgets_taken];
    if (scope == nullptr || scope->budget == nullptr) continue;
    if (!scope->budget->TryReserve(estimated_cost_micros)) {
      return refuse(LimitKind::kBudget, budgets_taken, nullptr, false);
    }
  }
  Admission admission(scopes, estimated_tokens, estimated_cost_micros);
  admission.status_ = status;
  return admission;
}

Admission::Admission(std::array<LimitState*, kMaxScopes> scopes, int64_t tokens,
                     int64_t cost_micros)
    : scopes_(scopes),
      charged_tokens_(tokens),
      charged_cost_micros_(cost_micros) {}

Admission::Admission(Admission&& other) noexcept
    : scopes_(other.scopes_),
      charged_tokens_(other.charged_tokens_),
      charged_cost_micros_(other.charged_cost_micros_),
      status_(other.status_) {
  other.scopes_.fill(nullptr);
}

Admission::~Admission() {
  for (LimitState* scope : scopes_) {
    if (scope != nullptr && scope->concurrency != nullptr) {
      scope->concurrency->Release();
    }
  }
}

void Admission::Settle(int64_t actual_tokens, int64_t actual_cost_micros) {
  const int64_t token_delta = actual_tokens - charged_tokens_;
  const int64_t cost_delta = actual_cost_micros - charged_cost_micros_;
  for (LimitState* scope : scopes_) {
    if (scope == nullptr) continue;
    if (scope->tokens != nullptr && token_delta != 0) {
      scope->tokens->Adjust(static_cast<double>(token_delta));
    }
    if (scope->budget != nullptr && cost_delta != 0) {
      scope->budget->Adjust(cost_delta);
    }
  }
  charged_tokens_ = actual_tokens;
  charged_cost_micros_ = actual_cost_micros;
}

}  // namespace llmproxy::dataplane
