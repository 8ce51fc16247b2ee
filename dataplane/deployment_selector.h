#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "dataplane/config_snapshot.h"

namespace llmproxy::dataplane {

// Returns a number uniformly drawn from [0, bound). Injected so tests can
// make the weighted choice deterministic.
using RandomBelow = std::function<uint64_t(uint64_t bound)>;

// The order in which to try the deployments of a grant: lowest priority value
// first; among equal priorities, a weighted random order (a deployment of
// weight 3 comes first three times as often as one of weight 1). At most
// `max_attempts` entries. (Inline storage: ordering a model's few
// deployments allocates nothing on the request path.)
using DeploymentOrder = absl::InlinedVector<const Deployment*, 4>;
DeploymentOrder OrderDeployments(
    const std::vector<const Deployment*>& deployments, std::size_t max_attempts,
    const RandomBelow& random);

// A thread-local PRNG, good enough for load balancing (not for secrets).
uint64_t FastRandomBelow(uint64_t bound);

}  // namespace llmproxy::dataplane
