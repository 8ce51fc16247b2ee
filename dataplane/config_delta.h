#pragma once

#include "absl/status/statusor.h"
#include "llmproxy/v1/config_service.pb.h"

namespace llmproxy::dataplane {

// Applies `delta` (bringing the config to `revision`) to `base`. FAILED_
// PRECONDITION when delta.base_revision is not base.revision: the data plane
// then NACKs and the control plane sends a full snapshot.
absl::StatusOr<v1::ConfigSnapshot> ApplyConfigDelta(
    const v1::ConfigSnapshot& base, const v1::ConfigDelta& delta,
    int64_t revision);

}  // namespace llmproxy::dataplane
