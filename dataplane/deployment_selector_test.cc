#include "dataplane/deployment_selector.h"

#include <map>

#include "gtest/gtest.h"

namespace llmproxy::dataplane {
namespace {

Deployment Make(std::string id, int priority, int weight) {
  Deployment d;
  d.model_id = std::move(id);
  d.priority = priority;
  d.weight = weight;
  d.usable = true;
  return d;
}

TEST(OrderDeployments, LowerPriorityFirstThenFallback) {
  Deployment a = Make("a", 0, 1), b = Make("b", 1, 1), c = Make("c", 2, 1);
  auto order =
      OrderDeployments({&a, &b, &c}, 2, [](uint64_t) -> uint64_t { return 0; });
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], &a);
  EXPECT_EQ(order[1], &b);
}

TEST(OrderDeployments, WeightedPickWithinAPriority) {
  Deployment a = Make("a", 0, 1), b = Make("b", 0, 3);
  // Total weight 4: draws 0 pick a, draws 1..3 pick b.
  EXPECT_EQ(OrderDeployments({&a, &b}, 2, [](uint64_t) { return 0u; })[0], &a);
  EXPECT_EQ(OrderDeployments({&a, &b}, 2, [](uint64_t) { return 1u; })[0], &b);
  EXPECT_EQ(OrderDeployments({&a, &b}, 2, [](uint64_t) { return 3u; })[0], &b);
  // The other one of the same priority is the fallback.
  EXPECT_EQ(OrderDeployments({&a, &b}, 2, [](uint64_t) { return 3u; })[1], &a);
}

TEST(OrderDeployments, RealRandomnessFollowsTheWeights) {
  Deployment a = Make("a", 0, 1), b = Make("b", 0, 3);
  std::map<const Deployment*, int> first;
  for (int i = 0; i < 4000; ++i) {
    first[OrderDeployments({&a, &b}, 1, FastRandomBelow)[0]]++;
  }
  EXPECT_NEAR(first[&b] / 4000.0, 0.75, 0.05);
}

TEST(OrderDeployments, EmptyAndSingle) {
  EXPECT_TRUE(OrderDeployments({}, 2, FastRandomBelow).empty());
  Deployment a = Make("a", 0, 1);
  EXPECT_EQ(OrderDeployments({&a}, 2, FastRandomBelow).size(), 1u);
}

}  // namespace
}  // namespace llmproxy::dataplane
