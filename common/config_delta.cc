#include "common/config_delta.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace llmproxy {
namespace {

// Replaces same-id entries of `items` with `upserts` (appending new ones)
// and drops entries whose id is in `deleted`.
template <typename T>
void Merge(google::protobuf::RepeatedPtrField<T>& items,
           const google::protobuf::RepeatedPtrField<T>& upserts,
           const google::protobuf::RepeatedPtrField<std::string>& deleted) {
  absl::flat_hash_set<std::string> drop(deleted.begin(), deleted.end());
  for (const T& u : upserts) drop.insert(u.id());
  google::protobuf::RepeatedPtrField<T> kept;
  for (T& item : items) {
    if (!drop.contains(item.id())) *kept.Add() = std::move(item);
  }
  for (const T& u : upserts) *kept.Add() = u;
  items.Swap(&kept);
}

}  // namespace

absl::StatusOr<v1::ConfigSnapshot> ApplyConfigDelta(
    const v1::ConfigSnapshot& base, const v1::ConfigDelta& delta,
    int64_t revision) {
  if (delta.base_revision() != base.revision()) {
    return absl::FailedPreconditionError(
        "delta base revision " + std::to_string(delta.base_revision()) +
        " does not match the applied revision " +
        std::to_string(base.revision()));
  }
  v1::ConfigSnapshot next = base;
  next.set_revision(revision);
  Merge(*next.mutable_connections(), delta.upserted_connections(),
        delta.deleted_connection_ids());
  Merge(*next.mutable_models(), delta.upserted_models(),
        delta.deleted_model_ids());
  Merge(*next.mutable_virtual_keys(), delta.upserted_virtual_keys(),
        delta.deleted_virtual_key_ids());
  Merge(*next.mutable_assignments(), delta.upserted_assignments(),
        delta.deleted_assignment_ids());
  if (!delta.budget_spend().empty()) {
    *next.mutable_budget_spend() = delta.budget_spend();
  }
  next.set_fleet_size(delta.fleet_size());
  return next;
}

}  // namespace llmproxy
