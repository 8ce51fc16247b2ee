#include "dataplane/limits/token_bucket.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace llmproxy::dataplane {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(TokenBucket, StartsFullAndAdmitsUpToCapacity) {
  ManualClock clock;
  TokenBucket bucket(2, 2, clock);
  EXPECT_TRUE(bucket.TryTake(1).admitted);
  EXPECT_TRUE(bucket.TryTake(1).admitted);
  EXPECT_FALSE(bucket.TryTake(1).admitted);
}

TEST(TokenBucket, RefusalSaysWhenTheRequestWouldFit) {
  ManualClock clock;
  TokenBucket bucket(2, 2, clock);  // one token every 500 ms
  bucket.TryTake(2);
  TokenBucket::Take refused = bucket.TryTake(1);
  ASSERT_FALSE(refused.admitted);
  EXPECT_EQ(refused.retry_after_nanos, 500'000'000);
  EXPECT_DOUBLE_EQ(refused.remaining, 0);
  EXPECT_EQ(refused.reset_nanos, 1'000'000'000);
}

TEST(TokenBucket, RefillsAtTheConfiguredRate) {
  ManualClock clock;
  TokenBucket bucket(2, 2, clock);
  bucket.TryTake(2);
  clock.Advance(milliseconds(499));
  EXPECT_FALSE(bucket.TryTake(1).admitted);
  clock.Advance(milliseconds(1));
  EXPECT_TRUE(bucket.TryTake(1).admitted);
  clock.Advance(seconds(10));
  EXPECT_DOUBLE_EQ(bucket.Remaining(), 2);  // never fuller than capacity
}

TEST(TokenBucket, RefusesWhenReservationExceedsRemainder) {
  ManualClock clock;
  TokenBucket bucket(1000.0 / 60, 1000, clock);  // 1000 tokens per minute
  EXPECT_TRUE(bucket.TryTake(700).admitted);
  TokenBucket::Take refused = bucket.TryTake(400);
  EXPECT_FALSE(refused.admitted);
  EXPECT_NEAR(bucket.Remaining(), 300, 1e-6);  // a refusal takes nothing
  EXPECT_TRUE(bucket.TryTake(300).admitted);
}

TEST(TokenBucket, SettlingAboveTheReservationPutsTheBucketInDebt) {
  ManualClock clock;
  TokenBucket bucket(1, 10, clock);
  bucket.TryTake(5);
  bucket.Adjust(10);  // the real usage was 15
  EXPECT_DOUBLE_EQ(bucket.Remaining(), -5);
  EXPECT_FALSE(bucket.TryTake(1).admitted);
  clock.Advance(seconds(6));
  EXPECT_TRUE(bucket.TryTake(1).admitted);
}

TEST(TokenBucket, RefundNeverFillsPastCapacity) {
  ManualClock clock;
  TokenBucket bucket(1, 10, clock);
  bucket.TryTake(4);
  bucket.Adjust(-100);
  EXPECT_DOUBLE_EQ(bucket.Remaining(), 10);
  EXPECT_EQ(bucket.NanosUntilFull(), 0);
}

TEST(TokenBucket, ConcurrentTakersNeverOvershoot) {
  ManualClock clock;  // time stands still: no refill during the race
  TokenBucket bucket(1, 1000, clock);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (bucket.TryTake(1).admitted) ++admitted;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 1000);
}

}  // namespace
}  // namespace llmproxy::dataplane
