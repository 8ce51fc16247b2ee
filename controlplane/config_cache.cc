#include "controlplane/config_cache.h"

#include <set>
#include <utility>

namespace llmproxy::controlplane {
namespace {

template <typename T>
absl::flat_hash_map<std::string, int> IndexById(
    const google::protobuf::RepeatedPtrField<T>& items) {
  absl::flat_hash_map<std::string, int> index;
  index.reserve(items.size());
  for (int i = 0; i < items.size(); ++i) index.emplace(items[i].id(), i);
  return index;
}

// Adds the row `id` of one kind to the delta: its current row when it still
// exists, else its id as deleted.
template <typename T>
void AddChange(const std::string& id,
               const absl::flat_hash_map<std::string, int>& index,
               const google::protobuf::RepeatedPtrField<T>& rows,
               google::protobuf::RepeatedPtrField<T>* upserted,
               google::protobuf::RepeatedPtrField<std::string>* deleted) {
  auto it = index.find(id);
  if (it == index.end()) {
    *deleted->Add() = id;
  } else {
    *upserted->Add() = rows[it->second];
  }
}

}  // namespace

PublishedConfigPtr MakePublishedConfig(v1::ConfigSnapshot snapshot) {
  auto config = std::make_shared<PublishedConfig>();
  config->snapshot = std::move(snapshot);
  const v1::ConfigSnapshot& s = config->snapshot;
  config->budget_owners = BudgetOwners(s);
  config->connection_index = IndexById(s.connections());
  config->model_index = IndexById(s.models());
  config->virtual_key_index = IndexById(s.virtual_keys());
  config->assignment_index = IndexById(s.assignments());
  return config;
}

absl::StatusOr<std::optional<v1::ConfigDelta>> BuildConfigDelta(
    Store& store, const PublishedConfig& config, int64_t base_revision,
    int max_changes) {
  const int64_t target = config.revision();
  if (base_revision > target || base_revision < 0) return std::nullopt;
  absl::StatusOr<std::vector<ConfigChange>> changes =
      store.ListChangesSince(base_revision, max_changes);
  if (!changes.ok()) return changes.status();
  // A full page may stop short of `target`: then the list is incomplete.
  if (static_cast<int>(changes->size()) >= max_changes &&
      changes->back().revision <= target) {
    return std::nullopt;
  }
  v1::ConfigDelta delta;
  delta.set_base_revision(base_revision);
  const v1::ConfigSnapshot& s = config.snapshot;
  std::set<std::pair<std::string, std::string>> seen;
  for (const ConfigChange& change : *changes) {
    // Newer than the config we push: the next push brings it.
    if (change.revision > target) break;
    if (!seen.insert({change.kind, change.id}).second) continue;
    if (change.kind == "connection") {
      AddChange(change.id, config.connection_index, s.connections(),
                delta.mutable_upserted_connections(),
                delta.mutable_deleted_connection_ids());
    } else if (change.kind == "model") {
      AddChange(change.id, config.model_index, s.models(),
                delta.mutable_upserted_models(),
                delta.mutable_deleted_model_ids());
    } else if (change.kind == "virtual_key") {
      AddChange(change.id, config.virtual_key_index, s.virtual_keys(),
                delta.mutable_upserted_virtual_keys(),
                delta.mutable_deleted_virtual_key_ids());
    } else if (change.kind == "assignment") {
      AddChange(change.id, config.assignment_index, s.assignments(),
                delta.mutable_upserted_assignments(),
                delta.mutable_deleted_assignment_ids());
    } else {
      // A kind this build does not know: only a full snapshot is safe.
      return std::nullopt;
    }
  }
  return delta;
}

ConfigCache::ConfigCache(Store& store, const SecretBox& secret_box)
    : store_(store), secret_box_(secret_box) {}

PublishedConfigPtr ConfigCache::Latest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_;
}

absl::StatusOr<PublishedConfigPtr> ConfigCache::Get(int64_t at_least_revision) {
  if (PublishedConfigPtr latest = Latest();
      latest && latest->revision() >= at_least_revision) {
    return latest;
  }
  std::lock_guard<std::mutex> build(build_mu_);
  // Another caller may have built it while we waited.
  if (PublishedConfigPtr latest = Latest();
      latest && latest->revision() >= at_least_revision) {
    return latest;
  }
  absl::StatusOr<v1::ConfigSnapshot> snapshot =
      LoadDataPlaneConfig(store_, secret_box_);
  if (!snapshot.ok()) return snapshot.status();
  PublishedConfigPtr config = MakePublishedConfig(*std::move(snapshot));
  std::lock_guard<std::mutex> lock(mu_);
  if (!latest_ || latest_->revision() <= config->revision()) latest_ = config;
  return config;
}

}  // namespace llmproxy::controlplane
