#include "dataplane/limits/admission.h"

#include <gtest/gtest.h>

#include <vector>

#include "dataplane/limits/limit_registry.h"

namespace llmproxy::dataplane {
namespace {

using std::chrono::seconds;

class AdmissionTest : public ::testing::Test {
 protected:
  LimitStatePtr Scope(const std::string& id, LimitSpec spec) {
    return registry_.Get(id, spec);
  }
  ManualClock clock_;
  LimitRegistry registry_{clock_};
};

TEST_F(AdmissionTest, BurstOfTenAgainstTwoPerSecondAdmitsExactlyTwo) {
  LimitStatePtr key =
      Scope("vk", {.requests_per_second = 2, .request_burst = 2});
  std::vector<Admission> admitted;
  std::vector<LimitRefusal> refused;
  for (int i = 0; i < 10; ++i) {
    auto result = Admission::TryAdmit({key.get(), nullptr}, 0);
    if (auto* a = std::get_if<Admission>(&result)) {
      admitted.push_back(std::move(*a));
    } else {
      refused.push_back(std::get<LimitRefusal>(result));
    }
  }
  EXPECT_EQ(admitted.size(), 2u);
  ASSERT_EQ(refused.size(), 8u);
  EXPECT_EQ(refused[0].kind, LimitKind::kRequests);
  EXPECT_EQ(refused[0].retry_after_nanos, 500'000'000);
  EXPECT_TRUE(refused[0].status.requests.present);
  EXPECT_EQ(refused[0].status.requests.limit, 2);
  EXPECT_EQ(refused[0].status.requests.remaining, 0);
}

TEST_F(AdmissionTest, TheStricterScopeWinsAndARefusalLeavesNoTrace) {
  LimitStatePtr key = Scope("vk", {.requests_per_second = 100});
  LimitStatePtr assignment = Scope("as", {.tokens_per_minute = 1000});
  auto first = Admission::TryAdmit({key.get(), assignment.get()}, 800);
  ASSERT_TRUE(std::holds_alternative<Admission>(first));
  auto second = Admission::TryAdmit({key.get(), assignment.get()}, 800);
  ASSERT_TRUE(std::holds_alternative<LimitRefusal>(second));
  EXPECT_EQ(std::get<LimitRefusal>(second).kind, LimitKind::kTokens);
  EXPECT_EQ(std::get<LimitRefusal>(second).scope, 1);  // the assignment
  // The refused request's request-bucket take was undone.
  EXPECT_DOUBLE_EQ(key->requests->Remaining(), 99);
}

TEST_F(AdmissionTest, SettlementReplacesTheEstimateWithRealUsage) {
  LimitStatePtr key = Scope("vk", {.tokens_per_minute = 1000});
  {
    auto result = Admission::TryAdmit({key.get(), nullptr}, 500);
    std::get<Admission>(result).Settle(120);
  }
  EXPECT_DOUBLE_EQ(key->tokens->Remaining(), 880);
  {
    auto result = Admission::TryAdmit({key.get(), nullptr}, 100);
    std::get<Admission>(result).Settle(0);  // upstream failed: all given back
  }
  EXPECT_DOUBLE_EQ(key->tokens->Remaining(), 880);
}

TEST_F(AdmissionTest, RealUsageExhaustsTokensAndRefillAdmitsAgain) {
  LimitStatePtr key = Scope("vk", {.tokens_per_minute = 600});
  {
    auto result = Admission::TryAdmit({key.get(), nullptr}, 10);
    std::get<Admission>(result).Settle(600);  // estimate 10, used 600
  }
  EXPECT_TRUE(std::holds_alternative<LimitRefusal>(
      Admission::TryAdmit({key.get(), nullptr}, 10)));
  clock_.Advance(seconds(1));  // 10 tokens per second refill
  EXPECT_TRUE(std::holds_alternative<Admission>(
      Admission::TryAdmit({key.get(), nullptr}, 10)));
}

TEST_F(AdmissionTest, ARequestLargerThanTheBucketCanNeverFit) {
  LimitStatePtr key = Scope("vk", {.tokens_per_minute = 100});
  auto result = Admission::TryAdmit({key.get(), nullptr}, 101);
  ASSERT_TRUE(std::holds_alternative<LimitRefusal>(result));
  EXPECT_TRUE(std::get<LimitRefusal>(result).never_fits);
}

TEST_F(AdmissionTest, ConcurrencySlotsAreHeldUntilTheAdmissionEnds) {
  LimitStatePtr key = Scope("vk", {.max_concurrent = 2});
  std::vector<Admission> in_flight;
  for (int i = 0; i < 2; ++i) {
    in_flight.push_back(
        std::get<Admission>(Admission::TryAdmit({key.get(), nullptr}, 0)));
  }
  auto refused = Admission::TryAdmit({key.get(), nullptr}, 0);
  ASSERT_TRUE(std::holds_alternative<LimitRefusal>(refused));
  EXPECT_EQ(std::get<LimitRefusal>(refused).kind, LimitKind::kConcurrency);
  in_flight.pop_back();
  EXPECT_TRUE(std::holds_alternative<Admission>(
      Admission::TryAdmit({key.get(), nullptr}, 0)));
}

TEST_F(AdmissionTest, ConcurrencyRefusalUndoesTakenRequestsAndTokens) {
  LimitStatePtr key = Scope("vk", {.requests_per_second = 10,
                                   .tokens_per_minute = 600,
                                   .max_concurrent = 1});
  auto held = Admission::TryAdmit({key.get(), nullptr}, 100);
  ASSERT_TRUE(std::holds_alternative<Admission>(held));
  auto refused = Admission::TryAdmit({key.get(), nullptr}, 100);
  ASSERT_TRUE(std::holds_alternative<LimitRefusal>(refused));
  EXPECT_DOUBLE_EQ(key->requests->Remaining(), 9);
  EXPECT_DOUBLE_EQ(key->tokens->Remaining(), 500);
}

}  // namespace
}  // namespace llmproxy::dataplane

namespace llmproxy::dataplane {
namespace {

TEST(BudgetAdmission, RefusesOnceThisDataPlanesShareIsSpent) {
  ManualClock clock;
  LimitRegistry registry(clock);
  // $10 budget, $4 spent fleet-wide, 2 data planes: $3 each.
  LimitStatePtr key = registry.Get(
      "vk", {.budget_usd = 10, .fleet_spent_usd = 4, .fleet_size = 2});
  {
    auto a = Admission::TryAdmit({key.get(), nullptr}, 0, 1'000'000);
    std::get<Admission>(a).Settle(0, 2'500'000);  // cost $2.50
  }
  auto refused = Admission::TryAdmit({key.get(), nullptr}, 0, 600'000);
  ASSERT_TRUE(std::holds_alternative<LimitRefusal>(refused));
  EXPECT_EQ(std::get<LimitRefusal>(refused).kind, LimitKind::kBudget);
  EXPECT_TRUE(std::holds_alternative<Admission>(
      Admission::TryAdmit({key.get(), nullptr}, 0, 500'000)));
}

TEST(BudgetAdmission, APushWithUnchangedFiguresGrantsNoSecondShare) {
  ManualClock clock;
  LimitRegistry registry(clock);
  LimitSpec spec{.budget_usd = 1, .fleet_spent_usd = 0, .fleet_size = 1};
  LimitStatePtr first = registry.Get("vk", spec);
  ASSERT_TRUE(first->budget->TryReserve(1'000'000));
  LimitStatePtr second = registry.Get("vk", spec);  // e.g. a model changed
  EXPECT_FALSE(second->budget->TryReserve(1));
  spec.fleet_spent_usd = 0.5;  // new figures from the control plane
  EXPECT_EQ(registry.Get("vk", spec)->budget->remaining_micros(), 500'000);
}

}  // namespace
}  // namespace llmproxy::dataplane
