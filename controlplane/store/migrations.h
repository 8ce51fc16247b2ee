#pragma once

#include "absl/status/status.h"
#include "controlplane/store/database.h"

namespace llmproxy::controlplane {

// Brings the schema to the newest version. Applied versions are recorded in
// schema_migrations; each migration runs in its own transaction, so a crash
// leaves the schema at a whole version. On PostgreSQL a transaction-scoped
// advisory lock serialises control planes that start at the same time; on
// SQLite BEGIN IMMEDIATE does the same.
absl::Status ApplyMigrations(Database& db);

// The newest schema version this build knows.
int LatestSchemaVersion();

}  // namespace llmproxy::controlplane
