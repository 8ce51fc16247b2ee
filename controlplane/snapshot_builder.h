#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/crypto/secret_box.h"
#include "controlplane/store/store.h"

namespace llmproxy::controlplane {

// Start of the budget period `period` ("day", "week", "month", "total", or
// "" meaning "month") that contains `now`, in Unix seconds, UTC; weeks start
// on Monday 00:00. 0 for "total".
int64_t BudgetPeriodStart(const std::string& period, absl::Time now);

// A virtual key or assignment that has a budget.
struct BudgetOwner {
  std::string virtual_key_id;
  // Empty for the key-wide budget.
  std::string assignment_id;
  // "day", "week", "month", "total" ("" means "month").
  std::string period;
};

// The config a data plane receives, without the fleet-wide figures: every
// resource at one revision, provider keys opened to plain text (the data
// plane calls the providers with them), virtual keys as hashes only.
// DATA_LOSS when a provider key cannot be opened (wrong encryption key).
absl::StatusOr<v1::ConfigSnapshot> LoadDataPlaneConfig(
    Store& store, const SecretBox& secret_box);

// Every key and assignment of `config` with a budget, ordered by key id then
// assignment id.
std::vector<BudgetOwner> BudgetOwners(const v1::ConfigSnapshot& config);

// The fleet-wide spend of each owner in its period that contains `now`, from
// the usage stored; one store query per distinct period start (at most four:
// day, week, month, total), not one per key. Same order as `owners`.
absl::StatusOr<std::vector<v1::BudgetSpend>> ComputeBudgetSpend(
    Store& store, const std::vector<BudgetOwner>& owners, absl::Time now);

// LoadDataPlaneConfig plus budget_spend (ComputeBudgetSpend) and fleet_size.
absl::StatusOr<v1::ConfigSnapshot> BuildDataPlaneSnapshot(
    Store& store, const SecretBox& secret_box, int fleet_size, absl::Time now);

}  // namespace llmproxy::controlplane
