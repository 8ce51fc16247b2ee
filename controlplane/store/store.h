#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "llmproxy/v1/config_service.pb.h"
#include "llmproxy/v1/resources.pb.h"
#include "llmproxy/v1/usage_service.pb.h"

namespace llmproxy::controlplane {

namespace v1 = ::llmproxy::v1;

// One page of a List call.
template <typename T>
struct Page {
  std::vector<T> items;
  // Id of the last item when more items follow, else empty.
  std::string next_after_id;
};

// What to list: items with id > after_id, at most limit of them (100 when
// limit <= 0), ordered by id.
struct PageRequest {
  std::string after_id;
  int limit = 100;
};

// One entry of the change log: which resource changed at which revision.
struct ConfigChange {
  int64_t revision = 0;
  // "connection", "model", "virtual_key" or "assignment".
  std::string kind;
  std::string id;
  bool deleted = false;
};

// Result of storing a batch of usage records.
struct UsageInsertResult {
  int accepted = 0;
  int duplicates = 0;
};

// Persistence of everything the control plane owns. Implementations:
// PostgreSQL (production) and SQLite (embedded default). Thread-safe.
//
// Every mutation runs in one transaction that also bumps the single config
// revision and appends to the change log; the new revision becomes the
// resource's etag. Errors use absl status codes, which map one-to-one onto
// gRPC codes:
//   ALREADY_EXISTS      unique name (connection, virtual key), key hash, same
//                       model deployment (name, connection_id, remote_model),
//                       same assignment (virtual_key_id, target)
//   NOT_FOUND           no row with that id, or a referenced id is missing
//   ABORTED             expected_etag is non-empty and is not the current etag
//   FAILED_PRECONDITION delete of a referenced row without force
//   UNAVAILABLE         the database cannot be reached
//
// Stored forms: Connection.api_key holds the SecretBox-sealed key (never plain
// text) and api_key_masked its display form; VirtualKey.key is always empty and
// key_sha256/key_prefix are set. The store does not validate field contents
// (the admin service does); it only keeps integrity.
class Store {
 public:
  virtual ~Store() = default;

  // Creates tables or upgrades them to the newest schema version; idempotent,
  // each migration in its own transaction, safe when several control planes
  // start at once.
  virtual absl::Status Migrate() = 0;

  // Create* assign id (prefixed "cn_", "md_", "vk_", "as_" + 12 hex),
  // etag, create_time and update_time, and return the stored row. An unset
  // `enabled` is stored as true.
  virtual absl::StatusOr<v1::Connection> CreateConnection(
      const v1::Connection& connection) = 0;
  virtual absl::StatusOr<v1::Connection> GetConnection(
      const std::string& id) = 0;
  virtual absl::StatusOr<Page<v1::Connection>> ListConnections(
      const PageRequest& page) = 0;
  // Replaces every stored field of the row with connection.id, except: an
  // empty api_key keeps the stored sealed key and api_key_masked (the key is
  // write-only), and an unset `enabled` keeps the stored value. Update* return
  // the row as stored, with the new etag.
  virtual absl::StatusOr<v1::Connection> UpdateConnection(
      const v1::Connection& connection, const std::string& expected_etag) = 0;
  // Returns the new revision. With force, models on the connection and
  // assignments to it or to those models are deleted in the same transaction.
  virtual absl::StatusOr<int64_t> DeleteConnection(
      const std::string& id, const std::string& expected_etag, bool force) = 0;

  virtual absl::StatusOr<v1::Model> CreateModel(const v1::Model& model) = 0;
  virtual absl::StatusOr<v1::Model> GetModel(const std::string& id) = 0;
  virtual absl::StatusOr<Page<v1::Model>> ListModels(
      const PageRequest& page) = 0;
  virtual absl::StatusOr<v1::Model> UpdateModel(
      const v1::Model& model, const std::string& expected_etag) = 0;
  virtual absl::StatusOr<int64_t> DeleteModel(const std::string& id,
                                              const std::string& expected_etag,
                                              bool force) = 0;

  virtual absl::StatusOr<v1::VirtualKey> CreateVirtualKey(
      const v1::VirtualKey& key) = 0;
  virtual absl::StatusOr<v1::VirtualKey> GetVirtualKey(
      const std::string& id) = 0;
  virtual absl::StatusOr<Page<v1::VirtualKey>> ListVirtualKeys(
      const PageRequest& page) = 0;
  // Like UpdateConnection; an empty key_sha256 keeps the stored hash and
  // key_prefix.
  virtual absl::StatusOr<v1::VirtualKey> UpdateVirtualKey(
      const v1::VirtualKey& key, const std::string& expected_etag) = 0;
  // Deletes the key's assignments with it (they cannot outlive it).
  virtual absl::StatusOr<int64_t> DeleteVirtualKey(
      const std::string& id, const std::string& expected_etag) = 0;

  virtual absl::StatusOr<v1::Assignment> CreateAssignment(
      const v1::Assignment& assignment) = 0;
  virtual absl::StatusOr<v1::Assignment> GetAssignment(
      const std::string& id) = 0;
  // virtual_key_id empty: all assignments.
  virtual absl::StatusOr<Page<v1::Assignment>> ListAssignments(
      const PageRequest& page, const std::string& virtual_key_id) = 0;
  virtual absl::StatusOr<v1::Assignment> UpdateAssignment(
      const v1::Assignment& assignment, const std::string& expected_etag) = 0;
  virtual absl::StatusOr<int64_t> DeleteAssignment(
      const std::string& id, const std::string& expected_etag) = 0;

  // The newest config revision (0 on an empty database).
  virtual absl::StatusOr<int64_t> GetRevision() = 0;
  // Every resource as of one consistent revision (one read transaction).
  // Connections keep their sealed api_key; the caller opens it.
  virtual absl::StatusOr<v1::ConfigSnapshot> LoadSnapshot() = 0;
  // Change-log entries with revision > since, ordered by revision; at most
  // limit entries (a caller falls back to a full snapshot when more exist);
  // none when limit <= 0. A forced cascade logs every deleted row at the
  // same revision.
  virtual absl::StatusOr<std::vector<ConfigChange>> ListChangesSince(
      int64_t since, int limit) = 0;

  // Fleet status, keyed by node_id.
  virtual absl::Status UpsertDataPlane(const v1::DataPlane& data_plane) = 0;
  virtual absl::StatusOr<std::vector<v1::DataPlane>> ListDataPlanes() = 0;

  // Stores records whose request_id is new; counts the others as duplicates.
  // All of a batch in one transaction.
  virtual absl::StatusOr<UsageInsertResult> InsertUsage(
      const std::vector<v1::UsageRecord>& records) = 0;
  // Aggregates per the request (group_by, granularity, filters, paging).
  virtual absl::StatusOr<v1::QueryUsageResponse> QueryUsage(
      const v1::QueryUsageRequest& request) = 0;
  // Sum of cost_usd per (virtual_key_id, assignment_id) with start_time >=
  // since_unix; key-wide rows have an empty assignment_id.
  virtual absl::StatusOr<std::vector<v1::BudgetSpend>> SpendSince(
      int64_t since_unix) = 0;
};

using StorePtr = std::unique_ptr<Store>;

// On PostgreSQL every committed config change also sends
// NOTIFY llmproxy_config, '<new revision>' so other control-plane replicas
// (LISTEN llmproxy_config) learn of it without polling GetRevision.
inline constexpr char kConfigNotifyChannel[] = "llmproxy_config";

// Opens the store a --database-url names: "postgresql://…" / "postgres://…"
// or "sqlite:///absolute/path" / "sqlite://relative/path". INVALID_ARGUMENT
// for another scheme, UNAVAILABLE when it cannot connect. Does not migrate.
absl::StatusOr<StorePtr> OpenStore(const std::string& database_url);

}  // namespace llmproxy::controlplane
