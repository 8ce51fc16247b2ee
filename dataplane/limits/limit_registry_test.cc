#include "dataplane/limits/limit_registry.h"

#include <gtest/gtest.h>

namespace llmproxy::dataplane {
namespace {

TEST(LimitRegistry, UnlimitedSpecHasNoState) {
  ManualClock clock;
  LimitRegistry registry(clock);
  EXPECT_EQ(registry.Get("vk", {}), nullptr);
}

TEST(LimitRegistry, UnchangedBucketsKeepTheirStateAcrossRebuilds) {
  ManualClock clock;
  LimitRegistry registry(clock);
  LimitStatePtr before =
      registry.Get("vk", {.requests_per_second = 5, .tokens_per_minute = 1000});
  before->requests->TryTake(3);
  before->tokens->TryTake(400);

  // Only the token limit changes.
  LimitStatePtr after =
      registry.Get("vk", {.requests_per_second = 5, .tokens_per_minute = 2000});
  EXPECT_EQ(after->requests, before->requests);
  EXPECT_DOUBLE_EQ(after->requests->Remaining(), 2);
  EXPECT_NE(after->tokens, before->tokens);
  EXPECT_DOUBLE_EQ(after->tokens->Remaining(), 2000);
}

TEST(LimitRegistry, ConcurrencyLimitKeepsCountingInFlightRequests) {
  ManualClock clock;
  LimitRegistry registry(clock);
  LimitStatePtr before = registry.Get("vk", {.max_concurrent = 3});
  ASSERT_TRUE(before->concurrency->TryAcquire());
  ASSERT_TRUE(before->concurrency->TryAcquire());
  LimitStatePtr after = registry.Get("vk", {.max_concurrent = 2});
  EXPECT_EQ(after->concurrency->in_flight(), 2);
  EXPECT_FALSE(after->concurrency->TryAcquire());
}

TEST(LimitRegistry, PruneForgetsScopesNoSnapshotHolds) {
  ManualClock clock;
  LimitRegistry registry(clock);
  {
    LimitStatePtr s = registry.Get("vk", {.requests_per_second = 1});
    s->requests->TryTake(1);
  }
  registry.Prune();
  LimitStatePtr fresh = registry.Get("vk", {.requests_per_second = 1});
  EXPECT_DOUBLE_EQ(fresh->requests->Remaining(), 1);
}

}  // namespace
}  // namespace llmproxy::dataplane
