#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controlplane/store/database.h"
#include "controlplane/store/sql_store.h"
#include "controlplane/store/store.h"

namespace llmproxy::controlplane {

absl::StatusOr<StorePtr> OpenStore(const std::string& database_url) {
  absl::StatusOr<DatabasePtr> db;
  if (absl::StartsWith(database_url, "postgresql://") ||
      absl::StartsWith(database_url, "postgres://")) {
    db = OpenPostgresDatabase(database_url);
  } else if (absl::StartsWith(database_url, "sqlite://")) {
    // sqlite:///abs/path keeps its leading slash; sqlite://rel/path is
    // relative to the working directory.
    db = OpenSqliteDatabase(database_url.substr(sizeof("sqlite://") - 1));
  } else {
    // Only the scheme: the rest may hold a password.
    return absl::InvalidArgumentError(absl::StrCat(
        "database URL scheme must be postgresql:// or sqlite://, got ",
        database_url.substr(0, database_url.find(':'))));
  }
  if (!db.ok()) return db.status();
  return std::make_unique<SqlStore>(*std::move(db));
}

}  // namespace llmproxy::controlplane
