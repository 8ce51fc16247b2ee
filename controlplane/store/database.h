#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmproxy::controlplane {

// A statement parameter: NULL, an integer, a double or text.
using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;
using SqlParams = std::vector<SqlValue>;

// One result row. Both backends hand back every cell as text (or NULL), so the
// typed getters parse it; a NULL reads as 0 / "".
class SqlRow {
 public:
  explicit SqlRow(std::vector<std::optional<std::string>> cells)
      : cells_(std::move(cells)) {}

  size_t size() const { return cells_.size(); }
  bool IsNull(size_t i) const { return !cells_.at(i).has_value(); }
  const std::string& Text(size_t i) const;
  int64_t Int(size_t i) const;
  double Double(size_t i) const;
  bool Bool(size_t i) const { return Int(i) != 0; }

 private:
  std::vector<std::optional<std::string>> cells_;
};

using SqlRows = std::vector<SqlRow>;

// A transaction in progress. Statements use positional parameters $1..$N in
// both dialects.
class SqlTransaction {
 public:
  virtual ~SqlTransaction() = default;
  // Runs one statement and returns its rows (none for statements without
  // RETURNING). Errors: ALREADY_EXISTS for a unique violation, UNAVAILABLE
  // when the database cannot be reached, INTERNAL otherwise. After an error
  // the transaction is unusable: return the error from the callback.
  virtual absl::StatusOr<SqlRows> Query(absl::string_view sql,
                                        const SqlParams& params = {}) = 0;
};

enum class SqlDialect { kPostgres, kSqlite };

enum class TransactionMode {
  // Writes; PostgreSQL READ COMMITTED, SQLite BEGIN IMMEDIATE (takes the
  // write lock up front so two writers never deadlock on a lock upgrade).
  kReadWrite,
  // One consistent view of the database for every statement:
  // PostgreSQL REPEATABLE READ READ ONLY, SQLite a deferred read transaction
  // (WAL gives it a snapshot).
  kReadOnlySnapshot,
};

// The seam between the SQL store and a database library. Thread-safe.
class Database {
 public:
  virtual ~Database() = default;
  virtual SqlDialect dialect() const = 0;
  // Runs fn in one transaction: commits when fn returns OK, rolls back and
  // returns fn's error otherwise. A commit failure is returned as well.
  virtual absl::Status InTransaction(
      TransactionMode mode,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) = 0;
};

using DatabasePtr = std::unique_ptr<Database>;

// Connects to PostgreSQL (a libpq URI). UNAVAILABLE when it cannot connect.
absl::StatusOr<DatabasePtr> OpenPostgresDatabase(const std::string& uri);

// Opens (creating it and its parent directory when missing) an SQLite file.
absl::StatusOr<DatabasePtr> OpenSqliteDatabase(const std::string& path);

}  // namespace llmproxy::controlplane
