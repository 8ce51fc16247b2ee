#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/crypto/secret_box.h"
#include "controlplane/snapshot_builder.h"
#include "controlplane/store/store.h"

namespace llmproxy::controlplane {

// The data planes' config at one revision, built once and shared by every
// config stream of this replica (read-only once built).
struct PublishedConfig {
  // As LoadDataPlaneConfig returns it: no budget_spend, no fleet_size.
  v1::ConfigSnapshot snapshot;
  std::vector<BudgetOwner> budget_owners;
  // Resource id -> index in snapshot's repeated field of its kind.
  absl::flat_hash_map<std::string, int> connection_index;
  absl::flat_hash_map<std::string, int> model_index;
  absl::flat_hash_map<std::string, int> virtual_key_index;
  absl::flat_hash_map<std::string, int> assignment_index;

  int64_t revision() const { return snapshot.revision(); }
};

using PublishedConfigPtr = std::shared_ptr<const PublishedConfig>;

// Indexes `snapshot` (a LoadDataPlaneConfig result).
PublishedConfigPtr MakePublishedConfig(v1::ConfigSnapshot snapshot);

// The most changes a delta is built from; a data plane further behind gets a
// full snapshot.
inline constexpr int kMaxDeltaChanges = 1000;

// The delta that brings a data plane holding `base_revision` to
// `config.revision()`: every resource changed in between, as its current row
// (upserted) or its id (deleted), read from the store's change log.
// nullopt when the change log does not give the complete list (more than
// `max_changes` changes, or `base_revision` is newer than `config`, e.g. the
// database was reset): the caller sends a full snapshot. budget_spend and
// fleet_size are left for the caller.
absl::StatusOr<std::optional<v1::ConfigDelta>> BuildConfigDelta(
    Store& store, const PublishedConfig& config, int64_t base_revision,
    int max_changes = kMaxDeltaChanges);

// Builds the published config at the newest revision on demand and keeps the
// newest one, so N streams woken by one change read the database once.
class ConfigCache {
 public:
  ConfigCache(Store& store, const SecretBox& secret_box);

  // A config at `at_least_revision` or newer: the kept one when it is new
  // enough, else a fresh one from the store (one build at a time; callers
  // that wait for it share its result).
  absl::StatusOr<PublishedConfigPtr> Get(int64_t at_least_revision);

  // The kept config, or null before the first build.
  PublishedConfigPtr Latest() const;

 private:
  Store& store_;
  const SecretBox& secret_box_;
  std::mutex build_mu_;  // Held while building; taken before mu_.
  mutable std::mutex mu_;
  PublishedConfigPtr latest_;
};

}  // namespace llmproxy::controlplane
