#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/crypto/secret_box.h"
#include "controlplane/store/store.h"

namespace llmproxy::controlplane {

// Start of the budget period `period` ("day", "week", "month", "total", or
// "" meaning "month") that contains `now`, in Unix seconds, UTC; weeks start
// on Monday 00:00. 0 for "total".
int64_t BudgetPeriodStart(const std::string& period, absl::Time now);

// The config a data plane receives: every resource at one revision, provider
// keys opened to plain text (the data plane calls the providers with them),
// virtual keys as hashes only, the fleet-wide spend of every key and
// assignment with a budget in its current period, and the fleet size.
// DATA_LOSS when a provider key cannot be opened (wrong encryption key).
absl::StatusOr<v1::ConfigSnapshot> BuildDataPlaneSnapshot(
    Store& store, const SecretBox& secret_box, int fleet_size, absl::Time now);

}  // namespace llmproxy::controlplane
