// SQLite implementation of the Database seam: one connection behind a mutex
// (SQLite serialises writers anyway), WAL so readers in other processes are
// not blocked, and a busy timeout so concurrent writers wait instead of fail.

#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "controlplane/store/database.h"

namespace llmproxy::controlplane {
namespace {

constexpr int kBusyTimeoutMs = 10000;

absl::Status StatusFromSqlite(sqlite3* db, int rc, absl::string_view what) {
  const int primary = rc & 0xff;
  std::string message = absl::StrCat("sqlite ", what, ": ", sqlite3_errmsg(db));
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return absl::AlreadyExistsError(message);
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED ||
      primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR ||
      primary == SQLITE_FULL) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

// Doubles as text with enough digits to read back the same value.
std::string DoubleText(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

// The store writes PostgreSQL's "$N" placeholders. SQLite resolves a
// placeholder spelled with a name or number ("$1", "?1") by a linear search
// of the statement's parameters, both when binding and when compiling: a
// 1,800-parameter batch INSERT spent most of its time there. A bare "?" takes
// the next index with no search, so when every $N appears once, in order
// ($1, $2, ...), they become "?"; otherwise "?N", which still binds by index.
std::string NumberedParameters(std::string_view sql) {
  struct Placeholder {
    std::size_t begin, end;  // "$N" in sql
  };
  std::vector<Placeholder> placeholders;
  bool in_order = true;
  char quote = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      continue;
    }
    if (c != '$' || i + 1 >= sql.size() || !absl::ascii_isdigit(sql[i + 1])) {
      continue;
    }
    std::size_t end = i + 1;
    std::size_t number = 0;
    while (end < sql.size() && absl::ascii_isdigit(sql[end])) {
      number = number * 10 + static_cast<std::size_t>(sql[end] - '0');
      ++end;
    }
    in_order = in_order && number == placeholders.size() + 1;
    placeholders.push_back({i, end});
    i = end - 1;
  }
  std::string out;
  out.reserve(sql.size());
  std::size_t copied = 0;
  for (const Placeholder& p : placeholders) {
    out.append(sql.substr(copied, p.begin - copied));
    out.push_back('?');
    if (!in_order) out.append(sql.substr(p.begin + 1, p.end - p.begin - 1));
    copied = p.end;
  }
  out.append(sql.substr(copied));
  return out;
}

class SqliteTransaction : public SqlTransaction {
 public:
  explicit SqliteTransaction(sqlite3* db) : db_(db) {}

  absl::StatusOr<SqlRows> Query(absl::string_view sql,
                                const SqlParams& params) override {
    const std::string numbered =
        NumberedParameters(std::string_view(sql.data(), sql.size()));
    sqlite3_stmt* stmt = nullptr;
    int rc =
        sqlite3_prepare_v2(db_, numbered.data(),
                           static_cast<int>(numbered.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) return StatusFromSqlite(db_, rc, "prepare");
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(
        stmt, sqlite3_finalize);

    // Placeholder $N is parameter N; the count is the largest N used.
    const int count = sqlite3_bind_parameter_count(stmt);
    for (size_t i = 0; i < params.size() && static_cast<int>(i) < count; ++i) {
      const int index = static_cast<int>(i) + 1;
      const SqlValue& value = params[i];
      if (std::holds_alternative<std::monostate>(value)) {
        rc = sqlite3_bind_null(stmt, index);
      } else if (const auto* i64 = std::get_if<int64_t>(&value)) {
        rc = sqlite3_bind_int64(stmt, index, *i64);
      } else if (const auto* d = std::get_if<double>(&value)) {
        rc = sqlite3_bind_double(stmt, index, *d);
      } else {
        const auto& text = std::get<std::string>(value);
        rc = sqlite3_bind_text(stmt, index, text.data(),
                               static_cast<int>(text.size()), SQLITE_STATIC);
      }
      if (rc != SQLITE_OK) return StatusFromSqlite(db_, rc, "bind");
    }

    SqlRows rows;
    const int columns = sqlite3_column_count(stmt);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::vector<std::optional<std::string>> cells;
      cells.reserve(columns);
      for (int c = 0; c < columns; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_NULL:
            cells.emplace_back(std::nullopt);
            break;
          case SQLITE_INTEGER:
            cells.emplace_back(std::to_string(sqlite3_column_int64(stmt, c)));
            break;
          case SQLITE_FLOAT:
            cells.emplace_back(DoubleText(sqlite3_column_double(stmt, c)));
            break;
          default: {
            const auto* text =
                reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
            cells.emplace_back(
                std::string(text, sqlite3_column_bytes(stmt, c)));
          }
        }
      }
      rows.emplace_back(std::move(cells));
    }
    if (rc != SQLITE_DONE) {
      return StatusFromSqlite(db_, sqlite3_extended_errcode(db_), "step");
    }
    return rows;
  }

 private:
  sqlite3* db_;
};

class SqliteDatabase : public Database {
 public:
  explicit SqliteDatabase(sqlite3* db) : db_(db) {}
  ~SqliteDatabase() override { sqlite3_close_v2(db_); }

  SqlDialect dialect() const override { return SqlDialect::kSqlite; }

  absl::Status InTransaction(
      TransactionMode mode,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    const char* begin = mode == TransactionMode::kReadWrite ? "BEGIN IMMEDIATE"
                                                            : "BEGIN DEFERRED";
    if (absl::Status s = Exec(begin); !s.ok()) return s;
    SqliteTransaction transaction(db_);
    absl::Status result = fn(transaction);
    if (result.ok()) {
      result = Exec("COMMIT");
      if (result.ok()) return result;
    }
    // A failed COMMIT may leave the transaction open; ROLLBACK ends it either
    // way (and is a harmless error when SQLite already rolled back).
    Exec("ROLLBACK").IgnoreError();
    return result;
  }

  absl::Status Exec(const char* sql) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      return StatusFromSqlite(db_, sqlite3_extended_errcode(db_), sql);
    }
    return absl::OkStatus();
  }

 private:
  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace

absl::StatusOr<DatabasePtr> OpenSqliteDatabase(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("empty SQLite path");
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat(
          "cannot create directory ", parent.string(), ": ", ec.message()));
    }
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = absl::UnavailableError(
        absl::StrCat("cannot open SQLite database ", path, ": ",
                     db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close_v2(db);
    return status;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  auto database = std::make_unique<SqliteDatabase>(db);
  // WAL lets other processes read while we write; NORMAL sync is durable
  // across application crashes, which is what WAL mode is designed for.
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"}) {
    if (absl::Status s = database->Exec(pragma); !s.ok()) return s;
  }
  return database;
}

}  // namespace llmproxy::controlplane
