// PostgreSQL implementation of the Database seam over libpqxx 6.4: a small
// pool of connections so concurrent RPCs do not queue behind one socket, and
// broken connections are dropped and replaced on the next use.

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>

#include "absl/strings/str_cat.h"
#include "controlplane/store/database.h"

namespace llmproxy::controlplane {
namespace {

constexpr int kMaxConnections = 4;

std::string DoubleText(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

// Converts a libpqxx exception to a status. Messages from the server name
// constraints and values of our own schema only (hashes, ids), never secrets.
absl::Status StatusFromException(const std::exception& e) {
  if (dynamic_cast<const pqxx::unique_violation*>(&e) != nullptr) {
    return absl::AlreadyExistsError(e.what());
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL connection lost: ", e.what()));
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL commit outcome unknown: ", e.what()));
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    return absl::AbortedError(e.what());
  }
  return absl::InternalError(absl::StrCat("PostgreSQL: ", e.what()));
}

class PostgresTransaction : public SqlTransaction {
 public:
  explicit PostgresTransaction(pqxx::transaction_base& txn) : txn_(txn) {}

  absl::StatusOr<SqlRows> Query(absl::string_view sql,
                                const SqlParams& params) override {
    // Parameters travel as text with an unspecified type; the server infers
    // each one from its use, as it does for the literal.
    std::vector<std::string> storage(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      const SqlValue& value = params[i];
      if (std::holds_alternative<std::monostate>(value)) continue;
      if (const auto* i64 = std::get_if<int64_t>(&value)) {
        storage[i] = std::to_string(*i64);
      } else if (const auto* d = std::get_if<double>(&value)) {
        storage[i] = DoubleText(*d);
      } else {
        storage[i] = std::get<std::string>(value);
      }
      values[i] = storage[i].c_str();
    }
    try {
      pqxx::result result = txn_.exec_params(
          std::string(sql), pqxx::prepare::make_dynamic_params(values));
      SqlRows rows;
      rows.reserve(result.size());
      for (const pqxx::row& row : result) {
        std::vector<std::optional<std::string>> cells;
        cells.reserve(row.size());
        for (const pqxx::field& field : row) {
          if (field.is_null()) {
            cells.emplace_back(std::nullopt);
          } else {
            cells.emplace_back(std::string(field.c_str(), field.size()));
          }
        }
        rows.emplace_back(std::move(cells));
      }
      return rows;
    } catch (const std::exception& e) {
      failed_ = true;
      broken_ = dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr;
      return StatusFromException(e);
    }
  }

  bool failed() const { return failed_; }
  bool broken() const { return broken_; }

 private:
  pqxx::transaction_base& txn_;
  bool failed_ = false;
  bool broken_ = false;
};

class PostgresDatabase : public Database {
 public:
  explicit PostgresDatabase(std::string uri) : uri_(std::move(uri)) {}

  SqlDialect dialect() const override { return SqlDialect::kPostgres; }

  // Opens the first connection so a bad URL is reported at open time.
  absl::Status Connect() {
    absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = NewConnection();
    if (!conn.ok()) return conn.status();
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(*std::move(conn));
    ++open_;
    return absl::OkStatus();
  }

  absl::Status InTransaction(
      TransactionMode mode,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn) override {
    // A pooled connection may have died while idle (server restart); then
    // BEGIN fails before anything ran, and retrying is safe. Every pooled
    // connection may be dead, hence one attempt more than the pool holds.
    for (int attempt = 0;; ++attempt) {
      absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = Acquire();
      if (!conn.ok()) return conn.status();
      bool began = false;
      bool broken = false;
      absl::Status status = RunTransaction(**conn, mode, fn, began, broken);
      Release(std::move(*conn), broken);
      if (broken && !began && attempt < kMaxConnections) continue;
      return status;
    }
  }

 private:
  absl::Status RunTransaction(
      pqxx::connection& conn, TransactionMode mode,
      absl::FunctionRef<absl::Status(SqlTransaction&)> fn, bool& began,
      bool& broken) {
    try {
      std::unique_ptr<pqxx::transaction_base> txn;
      if (mode == TransactionMode::kReadWrite) {
        txn = std::make_unique<pqxx::work>(conn);
      } else {
        txn = std::make_unique<
            pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>>(conn);
      }
      began = true;
      PostgresTransaction transaction(*txn);
      absl::Status status = fn(transaction);
      broken = transaction.broken();
      if (!status.ok()) {
        // The callback's error is the one to report, not a failed ROLLBACK
        // (the server rolls back by itself when the connection is gone).
        try {
          if (!broken) txn->abort();
        } catch (const std::exception&) {
          broken = !conn.is_open();
        }
        return status;
      }
      if (transaction.failed()) {
        // The callback swallowed a statement error; the server has aborted
        // the transaction, so a commit cannot succeed.
        txn->abort();
        return absl::InternalError("statement failed inside transaction");
      }
      txn->commit();
      return absl::OkStatus();
    } catch (const std::exception& e) {
      broken = broken ||
               dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
               !conn.is_open();
      return StatusFromException(e);
    }
  }

  absl::StatusOr<std::unique_ptr<pqxx::connection>> NewConnection() {
    try {
      return std::make_unique<pqxx::connection>(uri_);
    } catch (const std::exception& e) {
      // The URI may carry a password: name the failure, not the URI.
      return absl::UnavailableError(
          absl::StrCat("cannot connect to PostgreSQL: ", e.what()));
    }
  }

  absl::StatusOr<std::unique_ptr<pqxx::connection>> Acquire() {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !idle_.empty() || open_ < kMaxConnections; });
      if (!idle_.empty()) {
        std::unique_ptr<pqxx::connection> conn = std::move(idle_.front());
        idle_.pop_front();
        return conn;
      }
      ++open_;  // Reserve the slot before connecting outside the lock.
    }
    absl::StatusOr<std::unique_ptr<pqxx::connection>> conn = NewConnection();
    if (!conn.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      --open_;
      cv_.notify_one();
    }
    return conn;
  }

  void Release(std::unique_ptr<pqxx::connection> conn, bool broken) {
    std::lock_guard<std::mutex> lock(mu_);
    if (broken || !conn->is_open()) {
      --open_;  // Dropped; a fresh one is made on demand.
    } else {
      idle_.push_back(std::move(conn));
    }
    cv_.notify_one();
  }

  const std::string uri_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<pqxx::connection>> idle_;
  int open_ = 0;
};

}  // namespace

absl::StatusOr<DatabasePtr> OpenPostgresDatabase(const std::string& uri) {
  auto database = std::make_unique<PostgresDatabase>(uri);
  if (absl::Status s = database->Connect(); !s.ok()) return s;
  return database;
}

}  // namespace llmproxy::controlplane
