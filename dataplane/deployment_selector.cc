#include "dataplane/deployment_selector.h"

#include <random>

namespace llmproxy::dataplane {

DeploymentOrder OrderDeployments(
    const std::vector<const Deployment*>& deployments, std::size_t max_attempts,
    const RandomBelow& random) {
  DeploymentOrder order;
  std::size_t begin = 0;
  // `deployments` is sorted by priority: take one priority group at a time.
  while (begin < deployments.size() && order.size() < max_attempts) {
    std::size_t end = begin;
    while (end < deployments.size() &&
           deployments[end]->priority == deployments[begin]->priority) {
      ++end;
    }
    DeploymentOrder group(deployments.begin() + begin,
                          deployments.begin() + end);
    while (!group.empty() && order.size() < max_attempts) {
      uint64_t total = 0;
      for (const Deployment* d : group) total += d->weight;
      uint64_t pick = total > 1 ? random(total) : 0;
      std::size_t i = 0;
      for (; i + 1 < group.size(); ++i) {
        if (pick < static_cast<uint64_t>(group[i]->weight)) break;
        pick -= group[i]->weight;
      }
      order.push_back(group[i]);
      group.erase(group.begin() + i);
    }
    begin = end;
  }
  return order;
}

uint64_t FastRandomBelow(uint64_t bound) {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_int_distribution<uint64_t>(0, bound - 1)(engine);
}

}  // namespace llmproxy::dataplane
