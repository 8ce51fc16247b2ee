#pragma once

#include "absl/status/statusor.h"
#include "llmproxy/v1/config_service.pb.h"

namespace llmproxy {

namespace v1 = ::llmproxy::v1;

// Applies `delta` (bringing the config to `revision`) to `base`, as the
// config protocol defines it (config_service.proto): upserts replace rows by
// id, deleted ids go, a non-empty budget_spend replaces the list, fleet_size
// is always taken. FAILED_PRECONDITION when delta.base_revision is not
// base.revision: the data plane then NACKs and the control plane sends a full
// snapshot.
absl::StatusOr<v1::ConfigSnapshot> ApplyConfigDelta(
    const v1::ConfigSnapshot& base, const v1::ConfigDelta& delta,
    int64_t revision);

}  // namespace llmproxy
