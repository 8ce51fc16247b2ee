#include "controlplane/store/migrations.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace llmproxy::controlplane {
namespace {

// Arbitrary key of the advisory lock that guards migrations ("llmproxy" in
// ASCII).
constexpr int64_t kMigrationLockKey = 0x6c6c6d70726f7879;

struct Migration {
  int version;
  // Statements run one by one (neither backend takes several per call). Only
  // types both accept: TEXT, BIGINT, DOUBLE PRECISION, INTEGER 0/1 for
  // booleans; times are Unix microseconds; maps and Limits are JSON text.
  std::vector<std::string> statements;
};

const std::vector<Migration>& Migrations() {
  static const auto* const kMigrations = new std::vector<Migration>{
      {1,
       {
           R"sql(CREATE TABLE connections (
             id TEXT PRIMARY KEY,
             name TEXT NOT NULL UNIQUE,
             provider TEXT NOT NULL,
             endpoint TEXT NOT NULL,
             api_key TEXT NOT NULL,
             api_key_masked TEXT NOT NULL,
             api_version TEXT NOT NULL,
             region TEXT NOT NULL,
             extra_headers TEXT NOT NULL,
             timeout_ms BIGINT NOT NULL,
             enabled INTEGER NOT NULL,
             revision BIGINT NOT NULL,
             create_time BIGINT NOT NULL,
             update_time BIGINT NOT NULL))sql",
           R"sql(CREATE TABLE models (
             id TEXT PRIMARY KEY,
             name TEXT NOT NULL,
             remote_model TEXT NOT NULL,
             connection_id TEXT NOT NULL,
             input_price_per_million DOUBLE PRECISION NOT NULL,
             output_price_per_million DOUBLE PRECISION NOT NULL,
             enabled INTEGER NOT NULL,
             weight BIGINT NOT NULL,
             priority BIGINT NOT NULL,
             revision BIGINT NOT NULL,
             create_time BIGINT NOT NULL,
             update_time BIGINT NOT NULL))sql",
           "CREATE UNIQUE INDEX models_deployment ON models "
           "(name, connection_id, remote_model)",
           "CREATE INDEX models_connection ON models (connection_id)",
           R"sql(CREATE TABLE virtual_keys (
             id TEXT PRIMARY KEY,
             name TEXT NOT NULL UNIQUE,
             key_sha256 TEXT NOT NULL UNIQUE,
             key_prefix TEXT NOT NULL,
             enabled INTEGER NOT NULL,
             expire_time BIGINT,
             metadata TEXT NOT NULL,
             limits TEXT,
             revision BIGINT NOT NULL,
             create_time BIGINT NOT NULL,
             update_time BIGINT NOT NULL))sql",
           // The unused target column holds '' (not NULL) so the unique index
           // sees two assignments of the same target as equal.
           R"sql(CREATE TABLE assignments (
             id TEXT PRIMARY KEY,
             virtual_key_id TEXT NOT NULL,
             connection_id TEXT NOT NULL,
             model_id TEXT NOT NULL,
             limits TEXT,
             revision BIGINT NOT NULL,
             create_time BIGINT NOT NULL,
             update_time BIGINT NOT NULL))sql",
           "CREATE UNIQUE INDEX assignments_target ON assignments "
           "(virtual_key_id, connection_id, model_id)",
           "CREATE INDEX assignments_connection ON assignments "
           "(connection_id)",
           "CREATE INDEX assignments_model ON assignments (model_id)",
           R"sql(CREATE TABLE config_revision (
             id INTEGER PRIMARY KEY,
             revision BIGINT NOT NULL))sql",
           "INSERT INTO config_revision (id, revision) VALUES (1, 0)",
           R"sql(CREATE TABLE config_changes (
             revision BIGINT NOT NULL,
             kind TEXT NOT NULL,
             id TEXT NOT NULL,
             deleted INTEGER NOT NULL,
             PRIMARY KEY (revision, kind, id)))sql",
           R"sql(CREATE TABLE data_planes (
             node_id TEXT PRIMARY KEY,
             address TEXT NOT NULL,
             acked_revision BIGINT NOT NULL,
             last_nack_reason TEXT NOT NULL,
             nacked_revision BIGINT NOT NULL,
             connected INTEGER NOT NULL,
             last_contact_time BIGINT NOT NULL,
             version TEXT NOT NULL))sql",
           R"sql(CREATE TABLE usage_records (
             request_id TEXT PRIMARY KEY,
             virtual_key_id TEXT NOT NULL,
             model TEXT NOT NULL,
             remote_model TEXT NOT NULL,
             connection_id TEXT NOT NULL,
             assignment_id TEXT NOT NULL,
             dataplane_id TEXT NOT NULL,
             prompt_tokens BIGINT NOT NULL,
             completion_tokens BIGINT NOT NULL,
             cached_tokens BIGINT NOT NULL,
             cost_usd DOUBLE PRECISION NOT NULL,
             http_status BIGINT NOT NULL,
             status TEXT NOT NULL,
             latency_ms DOUBLE PRECISION NOT NULL,
             ttft_ms DOUBLE PRECISION NOT NULL,
             start_time BIGINT NOT NULL,
             streamed INTEGER NOT NULL,
             endpoint TEXT NOT NULL))sql",
           "CREATE INDEX usage_records_start_time ON usage_records "
           "(start_time)",
       }},
  };
  return *kMigrations;
}

}  // namespace

int LatestSchemaVersion() { return Migrations().back().version; }

absl::Status ApplyMigrations(Database& db) {
  for (const Migration& migration : Migrations()) {
    absl::Status status = db.InTransaction(
        TransactionMode::kReadWrite, [&](SqlTransaction& txn) -> absl::Status {
          if (db.dialect() == SqlDialect::kPostgres) {
            // Taken before anything else, even CREATE TABLE IF NOT EXISTS,
            // which races with itself on PostgreSQL.
            absl::StatusOr<SqlRows> locked = txn.Query(
                "SELECT pg_advisory_xact_lock($1)", {kMigrationLockKey});
            if (!locked.ok()) return locked.status();
          }
          absl::StatusOr<SqlRows> created = txn.Query(
              "CREATE TABLE IF NOT EXISTS schema_migrations ("
              "version BIGINT PRIMARY KEY, "
              "applied_time BIGINT NOT NULL)");
          if (!created.ok()) return created.status();
          absl::StatusOr<SqlRows> applied = txn.Query(
              "SELECT version FROM schema_migrations WHERE "
              "version = $1",
              {int64_t{migration.version}});
          if (!applied.ok()) return applied.status();
          if (!applied->empty()) return absl::OkStatus();
          for (const std::string& sql : migration.statements) {
            absl::StatusOr<SqlRows> done = txn.Query(sql);
            if (!done.ok()) return done.status();
          }
          return txn
              .Query(
                  "INSERT INTO schema_migrations (version, applied_time) "
                  "VALUES ($1, $2)",
                  {int64_t{migration.version}, absl::ToUnixMicros(absl::Now())})
              .status();
        });
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("schema migration ", migration.version,
                                       ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace llmproxy::controlplane
