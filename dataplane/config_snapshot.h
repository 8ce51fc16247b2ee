#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dataplane/limits/limit_registry.h"
#include "dataplane/limits/limit_state.h"
#include "dataplane/provider_adapter.h"
#include "dataplane/upstream_endpoint.h"

namespace llmproxy::v1 {
class BudgetSpend;
class ConfigSnapshot;
class Limits;
}  // namespace llmproxy::v1

namespace google::protobuf {
template <typename T>
class RepeatedPtrField;
}  // namespace google::protobuf

namespace llmproxy::dataplane {

// A Connection as the request path needs it: endpoint already parsed,
// adapter already chosen.
struct ConnectionInfo {
  std::string id;
  std::string name;
  std::string provider;
  UpstreamEndpoint endpoint;
  std::string api_key;
  std::string api_version;
  std::vector<std::pair<std::string, std::string>> extra_headers;
  int32_t timeout_ms = 0;
  bool enabled = true;
  // nullptr when the provider is not supported or the endpoint is invalid.
  const ProviderAdapter* adapter = nullptr;
};

// One Model row: a deployment of an alias on a connection.
struct Deployment {
  std::string model_id;
  std::string alias;
  std::string remote_model;
  const ConnectionInfo* connection = nullptr;
  int32_t weight = 1;  // >= 1
  // USD per million tokens (= micro-USD per token).
  double input_price_per_million = 0;
  double output_price_per_million = 0;
  int32_t priority = 0;
  int64_t created_unix = 0;
  // Model and connection enabled, provider supported, endpoint valid.
  bool usable = false;
  // What a usable deployment sends upstream, by Operation (built with the
  // snapshot, see PrepareUpstreamRequest); empty for an operation its
  // provider does not offer.
  std::array<std::optional<UpstreamRequest>, kOperationCount> upstream;
};

// One Assignment row, as far as the request path needs it.
struct AssignmentInfo {
  std::string id;
  // Index of its limits in the snapshot (see ConfigSnapshot::Limits); -1
  // when it has none.
  int32_t limit_slot = -1;
};

// What a key may call under one alias.
struct AliasGrant {
  // Usable deployments the key's assignments cover, by ascending priority.
  std::vector<const Deployment*> deployments;
  // For a key's grant: the assignment that covers deployments[i] (the first
  // one listed when several do). Empty in the master key's grants.
  std::vector<const AssignmentInfo*> assignments;

  // The assignment covering `d`, or nullptr.
  const AssignmentInfo* AssignmentFor(const Deployment* d) const;
};

struct VirtualKeyInfo {
  std::string id;
  std::string name;
  std::string key_prefix;
  bool enabled = true;
  // Unset: never expires.
  std::optional<std::chrono::system_clock::time_point> expire_time;
  // Index of the key-wide limits in the snapshot; -1 when it has none.
  int32_t limit_slot = -1;
  // alias -> grant; an alias is present when any assignment covers any of
  // its deployments, even if none is usable now (503 rather than 403).
  absl::flat_hash_map<std::string, AliasGrant> aliases;
};

// The configured limits of one scope (a key's key-wide limits or one
// assignment's), before the fleet-wide budget figures are applied.
struct LimitScope {
  std::string scope_id;  // the key id or the assignment id
  std::string virtual_key_id;
  std::string assignment_id;  // empty for key-wide limits
  LimitSpec spec;             // without fleet figures
  std::string budget_period;  // "day", "week", "month" or "total"
};

// The immutable, request-ready form of a v1::ConfigSnapshot. Built off the
// request path (by the config subscriber), then shared read-only by every
// request thread through a shared_ptr<const ConfigSnapshot>: no locks, and
// nothing in it ever changes after Build returns (the limit counters it
// points to are atomics).
class ConfigSnapshot {
 public:
  // Rows that cannot be used (unknown provider, dangling ids, a disabled
  // connection's bad endpoint) make their deployments unusable and are
  // logged. INVALID_ARGUMENT (the data plane NACKs and keeps its config) for
  // an enabled connection of a supported provider whose endpoint cannot be
  // parsed. With a registry, every key and assignment with limits gets its
  // LimitState from it (live buckets are kept across snapshots); without
  // one, nothing is limited.
  static absl::StatusOr<std::shared_ptr<const ConfigSnapshot>> Build(
      const v1::ConfigSnapshot& proto, LimitRegistry* registry = nullptr);

  // A snapshot with the same resources and revision as this one and new
  // fleet-wide budget figures (a budget refresh push): shares everything but
  // the limit states, and reuses the state of every scope whose figures did
  // not change, so it costs a registry lookup per scope whose figures moved.
  std::shared_ptr<const ConfigSnapshot> WithFleetFigures(
      const google::protobuf::RepeatedPtrField<v1::BudgetSpend>& budget_spend,
      int32_t fleet_size, LimitRegistry* registry) const;

  ConfigSnapshot(const ConfigSnapshot&) = delete;
  ConfigSnapshot& operator=(const ConfigSnapshot&) = delete;

  int64_t revision() const { return revision_; }

  // The key whose Sha256Hex is `key_sha256`, or nullptr.
  const VirtualKeyInfo* FindKey(std::string_view key_sha256) const;

  // Every alias with all its usable deployments (what the master key sees);
  // nullptr when no model has that name.
  const AliasGrant* FindAlias(std::string_view alias) const;
  const absl::flat_hash_map<std::string, AliasGrant>& aliases() const {
    return resources_->all_aliases;
  }
  // Earliest create time of an alias's models (for /v1/models), 0 if unknown.
  int64_t AliasCreatedUnix(std::string_view alias) const;

  // The live limits of a scope (nullptr: unlimited). Valid while this
  // snapshot is held.
  LimitState* Limits(int32_t slot) const {
    return slot < 0 ? nullptr : limits_[slot].get();
  }
  // The configured scope behind a slot.
  const LimitScope& Scope(int32_t slot) const {
    return resources_->scopes[slot];
  }
  std::size_t scope_count() const { return resources_->scopes.size(); }

 private:
  // Everything that only a config change (not a budget refresh) changes.
  struct Resources {
    // Stable storage: the maps below point into these.
    std::vector<std::unique_ptr<ConnectionInfo>> connections;
    std::vector<std::unique_ptr<Deployment>> deployments;
    std::vector<std::unique_ptr<AssignmentInfo>> assignments;
    absl::flat_hash_map<std::string, VirtualKeyInfo> keys_by_sha256;
    absl::flat_hash_map<std::string, AliasGrant> all_aliases;
    absl::flat_hash_map<std::string, int64_t> alias_created;
    std::vector<LimitScope> scopes;  // by limit slot
  };

  ConfigSnapshot() = default;
  static int32_t AddScope(Resources& res, const std::string& scope_id,
                          const std::string& key_id,
                          const std::string& assignment_id,
                          const v1::Limits& limits);
  // `previous`: the limit states of a snapshot with the same resources,
  // reused for scopes whose spec (figures included) did not change.
  void BuildLimits(
      const google::protobuf::RepeatedPtrField<v1::BudgetSpend>& budget_spend,
      int32_t fleet_size, LimitRegistry* registry,
      const std::vector<LimitStatePtr>* previous = nullptr);

  int64_t revision_ = 0;
  std::shared_ptr<const Resources> resources_;
  std::vector<LimitStatePtr> limits_;  // by slot; null: unlimited
};

using ConfigSnapshotPtr = std::shared_ptr<const ConfigSnapshot>;

// Abseil's APIs (heterogeneous lookup, StrAppend) take absl::string_view,
// which this Abseil build does not alias to std::string_view.
inline absl::string_view AbslView(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace llmproxy::dataplane
