#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "controlplane/store/database.h"
#include "controlplane/store/store.h"

namespace llmproxy::controlplane {

// The Store over any SQL Database: the same statements serve PostgreSQL and
// SQLite (only types, ON CONFLICT and RETURNING that both understand).
//
// Writers serialise on the config_revision row: every mutation bumps it
// first, which takes its row lock (PostgreSQL) or the database write lock
// (SQLite), so the existence and reference checks that follow cannot race
// with another writer.
class SqlStore : public Store {
 public:
  explicit SqlStore(DatabasePtr db);

  absl::Status Migrate() override;

  absl::StatusOr<v1::Connection> CreateConnection(
      const v1::Connection& connection) override;
  absl::StatusOr<v1::Connection> GetConnection(const std::string& id) override;
  absl::StatusOr<Page<v1::Connection>> ListConnections(
      const PageRequest& page) override;
  absl::StatusOr<v1::Connection> UpdateConnection(
      const v1::Connection& connection,
      const std::string& expected_etag) override;
  absl::StatusOr<int64_t> DeleteConnection(const std::string& id,
                                           const std::string& expected_etag,
                                           bool force) override;

  absl::StatusOr<v1::Model> CreateModel(const v1::Model& model) override;
  absl::StatusOr<v1::Model> GetModel(const std::string& id) override;
  absl::StatusOr<Page<v1::Model>> ListModels(const PageRequest& page) override;
  absl::StatusOr<v1::Model> UpdateModel(
      const v1::Model& model, const std::string& expected_etag) override;
  absl::StatusOr<int64_t> DeleteModel(const std::string& id,
                                      const std::string& expected_etag,
                                      bool force) override;

  absl::StatusOr<v1::VirtualKey> CreateVirtualKey(
      const v1::VirtualKey& key) override;
  absl::StatusOr<v1::VirtualKey> GetVirtualKey(const std::string& id) override;
  absl::StatusOr<Page<v1::VirtualKey>> ListVirtualKeys(
      const PageRequest& page) override;
  absl::StatusOr<v1::VirtualKey> UpdateVirtualKey(
      const v1::VirtualKey& key, const std::string& expected_etag) override;
  absl::StatusOr<int64_t> DeleteVirtualKey(
      const std::string& id, const std::string& expected_etag) override;

  absl::StatusOr<v1::Assignment> CreateAssignment(
      const v1::Assignment& assignment) override;
  absl::StatusOr<v1::Assignment> GetAssignment(const std::string& id) override;
  absl::StatusOr<Page<v1::Assignment>> ListAssignments(
      const PageRequest& page, const std::string& virtual_key_id) override;
  absl::StatusOr<v1::Assignment> UpdateAssignment(
      const v1::Assignment& assignment,
      const std::string& expected_etag) override;
  absl::StatusOr<int64_t> DeleteAssignment(
      const std::string& id, const std::string& expected_etag) override;

  absl::StatusOr<int64_t> GetRevision() override;
  absl::StatusOr<v1::ConfigSnapshot> LoadSnapshot() override;
  absl::StatusOr<std::vector<ConfigChange>> ListChangesSince(
      int64_t since, int limit) override;

  absl::Status UpsertDataPlane(const v1::DataPlane& data_plane) override;
  absl::StatusOr<std::vector<v1::DataPlane>> ListDataPlanes() override;

  absl::StatusOr<UsageInsertResult> InsertUsage(
      const std::vector<v1::UsageRecord>& records) override;
  absl::StatusOr<v1::QueryUsageResponse> QueryUsage(
      const v1::QueryUsageRequest& request) override;
  absl::StatusOr<std::vector<v1::BudgetSpend>> SpendSince(
      int64_t since_unix) override;

 private:
  // Runs fn in a write transaction after bumping the config revision; fn
  // gets the new revision. Returns that revision when everything committed.
  absl::StatusOr<int64_t> Mutate(
      absl::FunctionRef<absl::Status(SqlTransaction&, int64_t revision)> fn);

  DatabasePtr db_;
};

}  // namespace llmproxy::controlplane
