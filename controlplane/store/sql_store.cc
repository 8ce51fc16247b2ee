#include "controlplane/store/sql_store.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <boost/json.hpp>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/crypto/random.h"
#include "controlplane/store/migrations.h"

namespace llmproxy::controlplane {
namespace {

using google::protobuf::util::TimeUtil;

// Early returns for Status / StatusOr. __COUNTER__ keeps the temporaries
// distinct when the macros nest (a transaction callback inside a macro).
#define STORE_CONCAT_INNER(a, b) a##b
#define STORE_CONCAT(a, b) STORE_CONCAT_INNER(a, b)
#define STORE_RETURN_IF_ERROR_IMPL(tmp, expr)             \
  do {                                                    \
    if (absl::Status tmp = (expr); !tmp.ok()) return tmp; \
  } while (0)
#define STORE_RETURN_IF_ERROR(expr) \
  STORE_RETURN_IF_ERROR_IMPL(STORE_CONCAT(store_status_, __COUNTER__), expr)
#define STORE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = *std::move(tmp)
#define STORE_ASSIGN_OR_RETURN(lhs, expr)                                      \
  STORE_ASSIGN_OR_RETURN_IMPL(STORE_CONCAT(store_statusor_, __COUNTER__), lhs, \
                              expr)

constexpr int kDefaultPageSize = 100;
constexpr int kMaxUsagePageSize = 1000;

int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

std::string NewId(absl::string_view prefix) {
  return absl::StrCat(prefix, RandomHex(6));
}

int64_t ToMicros(const google::protobuf::Timestamp& t) {
  return TimeUtil::TimestampToMicroseconds(t);
}

google::protobuf::Timestamp FromMicros(int64_t micros) {
  return TimeUtil::MicrosecondsToTimestamp(micros);
}

int PageLimit(const PageRequest& page) {
  return page.limit > 0 ? page.limit : kDefaultPageSize;
}

// Maps (extra headers, metadata) as a JSON object of strings.
std::string MapToJson(
    const google::protobuf::Map<std::string, std::string>& m) {
  boost::json::object object;
  for (const auto& [key, value] : m) object[key] = value;
  return boost::json::serialize(object);
}

void MapFromJson(const std::string& text,
                 google::protobuf::Map<std::string, std::string>* m) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) return;
  for (const auto& [key, item] : value.as_object()) {
    if (item.is_string()) {
      (*m)[std::string(key)] = std::string(item.as_string());
    }
  }
}

// Limits as protobuf JSON (field names as in the .proto); NULL when unset.
SqlValue LimitsToSql(bool has, const v1::Limits& limits) {
  if (!has) return std::monostate();
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(limits, &json, options);
  return json;
}

void LimitsFromSql(const SqlRow& row, size_t i, v1::Limits* limits) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  (void)google::protobuf::util::JsonStringToMessage(row.Text(i), limits,
                                                    options);
}

absl::Status StaleEtag(absl::string_view kind, const std::string& id,
                       const std::string& expected, int64_t current) {
  return absl::AbortedError(absl::StrCat(kind, " ", id, " has etag ", current,
                                         ", not ", expected,
                                         ": it changed; read it again"));
}

absl::Status NotFound(absl::string_view kind, const std::string& id) {
  return absl::NotFoundError(absl::StrCat(kind, " ", id, " not found"));
}

// Rewrites a unique violation with a message saying which rule was broken;
// other errors pass through.
absl::Status Duplicate(absl::Status status, absl::string_view message) {
  if (absl::IsAlreadyExists(status)) return absl::AlreadyExistsError(message);
  return status;
}

absl::Status LogChange(SqlTransaction& txn, int64_t revision,
                       absl::string_view kind, const std::string& id,
                       bool deleted) {
  return txn
      .Query(
          "INSERT INTO config_changes (revision, kind, id, deleted) "
          "VALUES ($1, $2, $3, $4)",
          {revision, std::string(kind), id, int64_t{deleted ? 1 : 0}})
      .status();
}

// Ids selected by a query, in order.
absl::StatusOr<std::vector<std::string>> SelectIds(SqlTransaction& txn,
                                                   absl::string_view sql,
                                                   const SqlParams& params) {
  STORE_ASSIGN_OR_RETURN(SqlRows rows, txn.Query(sql, params));
  std::vector<std::string> ids;
  ids.reserve(rows.size());
  for (const SqlRow& row : rows) ids.push_back(row.Text(0));
  return ids;
}

// The revision (as the etag) and the times every kind carries.
template <typename T>
void SetVersion(int64_t revision, int64_t create_micros, int64_t update_micros,
                T* item) {
  item->set_etag(std::to_string(revision));
  *item->mutable_create_time() = FromMicros(create_micros);
  *item->mutable_update_time() = FromMicros(update_micros);
}

// ---- Row mapping. Each kind has one column list and one reader; the
// columns end in revision, create_time, update_time. ----

constexpr char kConnectionColumns[] =
    "id, name, provider, endpoint, api_key, api_key_masked, api_version, "
    "region, extra_headers, timeout_ms, enabled, revision, create_time, "
    "update_time";

v1::Connection ConnectionFromRow(const SqlRow& row) {
  v1::Connection c;
  c.set_id(row.Text(0));
  c.set_name(row.Text(1));
  c.set_provider(row.Text(2));
  c.set_endpoint(row.Text(3));
  c.set_api_key(row.Text(4));
  c.set_api_key_masked(row.Text(5));
  c.set_api_version(row.Text(6));
  c.set_region(row.Text(7));
  MapFromJson(row.Text(8), c.mutable_extra_headers());
  c.set_timeout_ms(static_cast<int32_t>(row.Int(9)));
  c.set_enabled(row.Bool(10));
  SetVersion(row.Int(11), row.Int(12), row.Int(13), &c);
  return c;
}

constexpr char kModelColumns[] =
    "id, name, remote_model, connection_id, input_price_per_million, "
    "output_price_per_million, enabled, weight, priority, revision, "
    "create_time, update_time";

v1::Model ModelFromRow(const SqlRow& row) {
  v1::Model m;
  m.set_id(row.Text(0));
  m.set_name(row.Text(1));
  m.set_remote_model(row.Text(2));
  m.set_connection_id(row.Text(3));
  m.set_input_price_per_million(row.Double(4));
  m.set_output_price_per_million(row.Double(5));
  m.set_enabled(row.Bool(6));
  m.set_weight(static_cast<int32_t>(row.Int(7)));
  m.set_priority(static_cast<int32_t>(row.Int(8)));
  SetVersion(row.Int(9), row.Int(10), row.Int(11), &m);
  return m;
}

constexpr char kVirtualKeyColumns[] =
    "id, name, key_sha256, key_prefix, enabled, expire_time, metadata, "
    "limits, revision, create_time, update_time";

v1::VirtualKey VirtualKeyFromRow(const SqlRow& row) {
  v1::VirtualKey k;
  k.set_id(row.Text(0));
  k.set_name(row.Text(1));
  k.set_key_sha256(row.Text(2));
  k.set_key_prefix(row.Text(3));
  k.set_enabled(row.Bool(4));
  if (!row.IsNull(5)) *k.mutable_expire_time() = FromMicros(row.Int(5));
  MapFromJson(row.Text(6), k.mutable_metadata());
  if (!row.IsNull(7)) LimitsFromSql(row, 7, k.mutable_limits());
  SetVersion(row.Int(8), row.Int(9), row.Int(10), &k);
  return k;
}

constexpr char kAssignmentColumns[] =
    "id, virtual_key_id, connection_id, model_id, limits, revision, "
    "create_time, update_time";

v1::Assignment AssignmentFromRow(const SqlRow& row) {
  v1::Assignment a;
  a.set_id(row.Text(0));
  a.set_virtual_key_id(row.Text(1));
  if (!row.Text(2).empty()) a.set_connection_id(row.Text(2));
  if (!row.Text(3).empty()) a.set_model_id(row.Text(3));
  if (!row.IsNull(4)) LimitsFromSql(row, 4, a.mutable_limits());
  SetVersion(row.Int(5), row.Int(6), row.Int(7), &a);
  return a;
}

// One kind of config resource and where it is stored.
template <typename T>
struct Kind {
  absl::string_view table;
  absl::string_view change_kind;  // config_changes.kind
  absl::string_view noun;         // in error messages
  absl::string_view columns;
  T (*from_row)(const SqlRow&);
};

constexpr Kind<v1::Connection> kConnections = {.table = "connections",
                                               .change_kind = "connection",
                                               .noun = "connection",
                                               .columns = kConnectionColumns,
                                               .from_row = ConnectionFromRow};
constexpr Kind<v1::Model> kModels = {.table = "models",
                                     .change_kind = "model",
                                     .noun = "model",
                                     .columns = kModelColumns,
                                     .from_row = ModelFromRow};
constexpr Kind<v1::VirtualKey> kVirtualKeys = {.table = "virtual_keys",
                                               .change_kind = "virtual_key",
                                               .noun = "virtual key",
                                               .columns = kVirtualKeyColumns,
                                               .from_row = VirtualKeyFromRow};
constexpr Kind<v1::Assignment> kAssignments = {.table = "assignments",
                                               .change_kind = "assignment",
                                               .noun = "assignment",
                                               .columns = kAssignmentColumns,
                                               .from_row = AssignmentFromRow};

// The revision of the row with that id: NOT_FOUND when there is none,
// ABORTED when expected_etag is set and differs.
template <typename T>
absl::Status CheckEtag(SqlTransaction& txn, const Kind<T>& kind,
                       const std::string& id,
                       const std::string& expected_etag) {
  STORE_ASSIGN_OR_RETURN(
      SqlRows rows, txn.Query(absl::StrCat("SELECT revision FROM ", kind.table,
                                           " WHERE id = $1"),
                              {id}));
  if (rows.empty()) return NotFound(kind.noun, id);
  const int64_t current = rows[0].Int(0);
  if (!expected_etag.empty() && expected_etag != std::to_string(current)) {
    return StaleEtag(kind.noun, id, expected_etag, current);
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status CheckExists(SqlTransaction& txn, const Kind<T>& kind,
                         const std::string& id) {
  STORE_ASSIGN_OR_RETURN(
      SqlRows rows,
      txn.Query(absl::StrCat("SELECT id FROM ", kind.table, " WHERE id = $1"),
                {id}));
  if (rows.empty()) return NotFound(kind.noun, id);
  return absl::OkStatus();
}

// Deletes the rows with these ids and logs each deletion.
template <typename T>
absl::Status DeleteLogged(SqlTransaction& txn, const Kind<T>& kind,
                          const std::vector<std::string>& ids,
                          int64_t revision) {
  const std::string sql =
      absl::StrCat("DELETE FROM ", kind.table, " WHERE id = $1");
  for (const std::string& id : ids) {
    STORE_RETURN_IF_ERROR(txn.Query(sql, {id}).status());
    STORE_RETURN_IF_ERROR(LogChange(txn, revision, kind.change_kind, id, true));
  }
  return absl::OkStatus();
}

// SELECT <columns> FROM <table> [WHERE <where>] ORDER BY id.
template <typename T>
absl::StatusOr<std::vector<T>> Select(SqlTransaction& txn, const Kind<T>& kind,
                                      absl::string_view where,
                                      const SqlParams& params) {
  std::string sql = absl::StrCat("SELECT ", kind.columns, " FROM ", kind.table);
  if (!where.empty()) absl::StrAppend(&sql, " WHERE ", where);
  absl::StrAppend(&sql, " ORDER BY id");
  STORE_ASSIGN_OR_RETURN(SqlRows rows, txn.Query(sql, params));
  std::vector<T> items;
  items.reserve(rows.size());
  for (const SqlRow& row : rows) items.push_back(kind.from_row(row));
  return items;
}

// Every row, in id order, appended to `out`.
template <typename T>
absl::Status SelectAll(SqlTransaction& txn, const Kind<T>& kind,
                       google::protobuf::RepeatedPtrField<T>* out) {
  STORE_ASSIGN_OR_RETURN(std::vector<T> items, Select(txn, kind, "", {}));
  for (T& item : items) *out->Add() = std::move(item);
  return absl::OkStatus();
}

template <typename T>
absl::StatusOr<T> SelectOne(SqlTransaction& txn, const Kind<T>& kind,
                            const std::string& id) {
  STORE_ASSIGN_OR_RETURN(std::vector<T> items,
                         Select(txn, kind, "id = $1", {id}));
  if (items.empty()) return NotFound(kind.noun, id);
  return std::move(items.front());
}

// The row an update starts from, once CheckEtag passed.
template <typename T>
absl::StatusOr<T> SelectForUpdate(SqlTransaction& txn, const Kind<T>& kind,
                                  const std::string& id,
                                  const std::string& expected_etag) {
  STORE_RETURN_IF_ERROR(CheckEtag(txn, kind, id, expected_etag));
  return SelectOne(txn, kind, id);
}

// Logs the update of row `id` and reads the row back as stored.
template <typename T>
absl::StatusOr<T> LogUpdate(SqlTransaction& txn, const Kind<T>& kind,
                            int64_t revision, const std::string& id) {
  STORE_RETURN_IF_ERROR(LogChange(txn, revision, kind.change_kind, id, false));
  return SelectOne(txn, kind, id);
}

// One page ordered by id: asks for one row more than the limit to learn
// whether another page follows. extra_where narrows the listing ($3 on).
template <typename T>
absl::StatusOr<Page<T>> SelectPage(Database& db, const Kind<T>& kind,
                                   const PageRequest& page,
                                   absl::string_view extra_where = "",
                                   SqlParams extra_params = {}) {
  const int limit = PageLimit(page);
  std::string where = "id > $1";
  if (!extra_where.empty()) absl::StrAppend(&where, " AND ", extra_where);
  absl::StrAppend(&where, " ORDER BY id LIMIT $2");
  SqlParams params = {page.after_id, int64_t{limit} + 1};
  for (SqlValue& value : extra_params) params.push_back(std::move(value));

  Page<T> result;
  STORE_RETURN_IF_ERROR(db.InTransaction(
      TransactionMode::kReadOnlySnapshot,
      [&](SqlTransaction& txn) -> absl::Status {
        std::string sql = absl::StrCat("SELECT ", kind.columns, " FROM ",
                                       kind.table, " WHERE ", where);
        STORE_ASSIGN_OR_RETURN(SqlRows rows, txn.Query(sql, params));
        for (const SqlRow& row : rows) {
          result.items.push_back(kind.from_row(row));
        }
        return absl::OkStatus();
      }));
  if (result.items.size() > static_cast<size_t>(limit)) {
    result.items.resize(limit);
    result.next_after_id = result.items.back().id();
  }
  return result;
}

template <typename T>
absl::StatusOr<T> GetById(Database& db, const Kind<T>& kind,
                          const std::string& id) {
  std::optional<T> item;
  STORE_RETURN_IF_ERROR(
      db.InTransaction(TransactionMode::kReadOnlySnapshot,
                       [&](SqlTransaction& txn) -> absl::Status {
                         STORE_ASSIGN_OR_RETURN(item, SelectOne(txn, kind, id));
                         return absl::OkStatus();
                       }));
  return *std::move(item);
}

// The newest config revision (0 before the first write).
absl::StatusOr<int64_t> ReadRevision(SqlTransaction& txn) {
  STORE_ASSIGN_OR_RETURN(
      SqlRows rows,
      txn.Query("SELECT revision FROM config_revision WHERE id = 1"));
  return rows.empty() ? 0 : rows[0].Int(0);
}
// ---- Writes of each kind (all fields but id and create_time). ----

SqlParams ConnectionParams(const v1::Connection& c, int64_t revision,
                           int64_t now) {
  // $1 id, $2.. fields, then revision and update time.
  return {c.id(),
          c.name(),
          c.provider(),
          c.endpoint(),
          c.api_key(),
          c.api_key_masked(),
          c.api_version(),
          c.region(),
          MapToJson(c.extra_headers()),
          int64_t{c.timeout_ms()},
          int64_t{c.enabled() ? 1 : 0},
          revision,
          now};
}

SqlParams ModelParams(const v1::Model& m, int64_t revision, int64_t now) {
  return {m.id(),
          m.name(),
          m.remote_model(),
          m.connection_id(),
          m.input_price_per_million(),
          m.output_price_per_million(),
          int64_t{m.enabled() ? 1 : 0},
          int64_t{m.weight()},
          int64_t{m.priority()},
          revision,
          now};
}

SqlParams VirtualKeyParams(const v1::VirtualKey& k, int64_t revision,
                           int64_t now) {
  SqlValue expire = std::monostate();
  if (k.has_expire_time()) expire = ToMicros(k.expire_time());
  return {k.id(),
          k.name(),
          k.key_sha256(),
          k.key_prefix(),
          int64_t{k.enabled() ? 1 : 0},
          expire,
          MapToJson(k.metadata()),
          LimitsToSql(k.has_limits(), k.limits()),
          revision,
          now};
}

SqlParams AssignmentParams(const v1::Assignment& a, int64_t revision,
                           int64_t now) {
  return {a.id(),
          a.virtual_key_id(),
          a.connection_id(),
          a.model_id(),
          LimitsToSql(a.has_limits(), a.limits()),
          revision,
          now};
}

// Integrity of an assignment: its key and its one target exist.
absl::Status CheckAssignmentReferences(SqlTransaction& txn,
                                       const v1::Assignment& a) {
  STORE_RETURN_IF_ERROR(CheckExists(txn, kVirtualKeys, a.virtual_key_id()));
  switch (a.target_case()) {
    case v1::Assignment::kConnectionId:
      return CheckExists(txn, kConnections, a.connection_id());
    case v1::Assignment::kModelId:
      return CheckExists(txn, kModels, a.model_id());
    default:
      return absl::InvalidArgumentError(
          "an assignment needs a connection_id or a model_id");
  }
}

constexpr char kDuplicateAssignment[] =
    "the virtual key already has an assignment to this target";

std::string DuplicateDeployment(const v1::Model& m) {
  return absl::StrCat("model ", m.name(), " already has a deployment of ",
                      m.remote_model(), " on connection ", m.connection_id());
}

// Name and key hash are unique among virtual keys; checked one by one so the
// error says which (the unique indexes remain the last word).
absl::Status CheckVirtualKeyUnique(SqlTransaction& txn,
                                   const v1::VirtualKey& k) {
  STORE_ASSIGN_OR_RETURN(
      SqlRows by_name,
      txn.Query("SELECT id FROM virtual_keys WHERE name = $1 AND id <> $2",
                {k.name(), k.id()}));
  if (!by_name.empty()) {
    return absl::AlreadyExistsError(
        absl::StrCat("virtual key name ", k.name(), " already exists"));
  }
  STORE_ASSIGN_OR_RETURN(
      SqlRows by_hash,
      txn.Query(
          "SELECT id FROM virtual_keys WHERE key_sha256 = $1 AND id <> $2",
          {k.key_sha256(), k.id()}));
  if (!by_hash.empty()) {
    return absl::AlreadyExistsError("a virtual key with this key exists");
  }
  return absl::OkStatus();
}

// ---- Usage. ----

// GROUP BY dimensions of QueryUsage: request name -> column.
absl::StatusOr<std::string> GroupColumn(const std::string& name) {
  if (name == "virtual_key") return std::string("virtual_key_id");
  if (name == "model") return std::string("model");
  if (name == "connection") return std::string("connection_id");
  return absl::InvalidArgumentError(absl::StrCat(
      "group_by ", name, " is not one of virtual_key, model, connection"));
}

}  // namespace

SqlStore::SqlStore(DatabasePtr db) : db_(std::move(db)) {}

absl::Status SqlStore::Migrate() { return ApplyMigrations(*db_); }

absl::StatusOr<int64_t> SqlStore::Mutate(
    absl::FunctionRef<absl::Status(SqlTransaction&, int64_t revision)> fn) {
  int64_t revision = 0;
  STORE_RETURN_IF_ERROR(db_->InTransaction(
      TransactionMode::kReadWrite, [&](SqlTransaction& txn) -> absl::Status {
        STORE_ASSIGN_OR_RETURN(
            SqlRows rows,
            txn.Query("UPDATE config_revision SET revision = revision + 1 "
                      "WHERE id = 1 RETURNING revision"));
        if (rows.empty()) {
          return absl::InternalError("config_revision row missing");
        }
        revision = rows[0].Int(0);
        STORE_RETURN_IF_ERROR(fn(txn, revision));
        if (db_->dialect() == SqlDialect::kPostgres) {
          // Delivered to listeners only when the transaction commits.
          STORE_RETURN_IF_ERROR(txn.Query("SELECT pg_notify($1, $2)",
                                          {std::string(kConfigNotifyChannel),
                                           std::to_string(revision)})
                                    .status());
        }
        return absl::OkStatus();
      }));
  return revision;
}

// ---- Connections ----

absl::StatusOr<v1::Connection> SqlStore::CreateConnection(
    const v1::Connection& connection) {
  v1::Connection row = connection;
  row.set_id(NewId("cn_"));
  if (!row.has_enabled()) row.set_enabled(true);
  const int64_t now = NowMicros();
  STORE_ASSIGN_OR_RETURN(
      int64_t revision,
      Mutate([&](SqlTransaction& txn, int64_t rev) -> absl::Status {
        SqlParams params = ConnectionParams(row, rev, now);
        params.push_back(now);
        STORE_RETURN_IF_ERROR(Duplicate(
            txn.Query(
                   absl::StrCat("INSERT INTO connections (", kConnectionColumns,
                                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                                "$9, $10, $11, $12, $14, $13)"),
                   params)
                .status(),
            absl::StrCat("connection name ", row.name(), " already exists")));
        return LogChange(txn, rev, kConnections.change_kind, row.id(), false);
      }));
  SetVersion(revision, now, now, &row);
  return row;
}

absl::StatusOr<v1::Connection> SqlStore::GetConnection(const std::string& id) {
  return GetById(*db_, kConnections, id);
}

absl::StatusOr<Page<v1::Connection>> SqlStore::ListConnections(
    const PageRequest& page) {
  return SelectPage(*db_, kConnections, page);
}

absl::StatusOr<v1::Connection> SqlStore::UpdateConnection(
    const v1::Connection& connection, const std::string& expected_etag) {
  v1::Connection updated;
  STORE_RETURN_IF_ERROR(
      Mutate([&](SqlTransaction& txn, int64_t rev) -> absl::Status {
        STORE_ASSIGN_OR_RETURN(
            v1::Connection stored,
            SelectForUpdate(txn, kConnections, connection.id(), expected_etag));
        v1::Connection row = connection;
        // The key is write-only: an update that does not bring a new one
        // keeps the stored one (callers never hold the sealed form).
        if (row.api_key().empty()) {
          row.set_api_key(stored.api_key());
          row.set_api_key_masked(stored.api_key_masked());
        }
        if (!row.has_enabled()) row.set_enabled(stored.enabled());
        STORE_RETURN_IF_ERROR(Duplicate(
            txn.Query("UPDATE connections SET name = $2, provider = $3, "
                      "endpoint = $4, api_key = $5, api_key_masked = $6, "
                      "api_version = $7, region = $8, extra_headers = $9, "
                      "timeout_ms = $10, enabled = $11, revision = $12, "
                      "update_time = $13 WHERE id = $1",
                      ConnectionParams(row, rev, NowMicros()))
                .status(),
            absl::StrCat("connection name ", row.name(), " already exists")));
        STORE_ASSIGN_OR_RETURN(updated,
                               LogUpdate(txn, kConnections, rev, row.id()));
        return absl::OkStatus();
      }).status());
  return updated;
}

absl::StatusOr<int64_t> SqlStore::DeleteConnection(
    const std::string& id, const std::string& expected_etag, bool force) {
  return Mutate([&](SqlTransaction& txn, int64_t rev) -> absl::Status {
    STORE_RETURN_IF_ERROR(CheckEtag(txn, kConnections, id, expected_etag));
    STORE_ASSIGN_OR_RETURN(
        std::vector<std::string> models,
        SelectIds(txn, "SELECT id FROM models WHERE connection_id = $1", {id}));
    STORE_ASSIGN_OR_RETURN(
        std::vector<std::string> assignments,
        SelectIds(txn,
                  "SELECT id FROM assignments WHERE connection_id = $1 OR "
                  "model_id IN (SELECT id FROM models WHERE "
                  "connection_id = $1) ORDER BY id",
                  {id}));
    if (!force && (!models.empty() || !assignments.empty())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "connection ", id, " is used by ", models.size(), " model(s) and ",
          assignments.size(), " assignment(s); delete them first or force"));
    }
    STORE_RETURN_IF_ERROR(DeleteLogged(txn, kAssignments, assignments, rev));
    STORE_RETURN_IF_ERROR(DeleteLogged(txn, kModels, models, rev));
    return DeleteLogged(txn, kConnections, {id}, rev);
  });
}

// ---- Models ----

absl::StatusOr<v1::Model> SqlStore::CreateModel(const v1::Model& model) {
  v1::Model row = model;
  row.set_id(NewId("md_"));
  if (!row.has_enabled()) row.set_enabled(true);
  const int64_t now = NowMicros();
  STORE_ASSIGN_OR_RETURN(
      int64_t revision,
      Mutate([&](SqlTransaction& txn, int64_t rev) -> absl::Status {
        STORE_RETURN_IF_ERROR(
            CheckExists(txn, kConnections, row.connection_id()));
        SqlParams params = ModelParams(row, rev, now);
        params.push_back(now);
        STORE_RETURN_IF_ERROR(Duplicate(
            txn.Query(absl::StrCat("INSERT INTO models (", kModelColumns,
                                   ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                                   "$9, $10, $12, $11)"),
                      params)
                .status(),
            DuplicateDeployment(row)));
        return LogChange(txn, rev, kModels.change_kind, row.id(), false);
      }));
  SetVersion(revision, now, now, &row);
  return row;
}

absl::StatusOr<v1::Model> SqlStore::GetModel(const std::string& id) {
  return GetById(*db_, kModels, id);
}

absl::StatusOr<Page<v1::Model>> SqlStore::ListModels(const PageRequest& page) {
  return SelectPage(*db_, kModels, page);
}

absl::StatusOr<v1::Model> SqlStore::UpdateModel(
    const v1::Model& model, const std::string& expected_etag) {
  v1::Model updated;
  STORE_RETURN_IF_ERROR(
      Mutate([&](SqlTransaction& txn, int64_t rev) -> absl::Status {
        STORE_ASSIGN_OR_RETURN(
            v1::Model stored,
            SelectForUpdate(txn, kModels, model.id(), expected_etag));
        STORE_RETURN_IF_ERROR(
            CheckExists(txn, kConnections, model.connection_id()));
        v1::Model row = model;
        if (!row.has_enabled()) row.set_enabled(stored.enabled());
        STORE_RETURN_IF_ERROR(Duplicate(
            txn.Query("UPDATE models SET name = $2, remote_model = $3, "
                      "connection_id = $4, input_price_per_million = $5, "
                      "output_price_per_million = $6, enabled = $7, "
                      "weight = $8, priority = $9, revision = $10, "
                      "update_time = $11 WHERE id = $1",
                      ModelParams(row, rev, NowMicros()))
                .status(),
            DuplicateDeployment(row)));
        STORE_ASSIGN_OR_RETURN(updated, LogUpdate(txn, kModels, rev, row.id()));
        return absl::OkStatus();
      }).status());
  return updated;
}

absl::StatusOr<int64_t> SqlStore::DeleteModel(const std::string& id,
                                              const std::string& expected_etag,
                                              bool force) {
  return Mutate([&](SqlTransaction& txn, int64_t rev) -> absl::Status {
    STORE_RETURN_IF_ERROR(CheckEtag(txn, kModels, id, expected_etag));
    STORE_ASSIGN_OR_RETURN(
        std::vector<std::string> assignments,
        SelectIds(txn,
                  "SELECT id FROM assignments WHERE model_id = $1 ORDER BY id",
                  {id}));
    if (!force && !assignments.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("model ", id, " is used by ", assignments.size(),
                       " assignment(s); delete them first or force"));
    }
    STORE_RETURN_IF_ERROR(DeleteLogged(txn, kAssignments, assignments, rev));
    return DeleteLogged(txn, kModels, {id}, rev);
  });
}

// ---- Virtual keys ----

absl::StatusOr<v1::VirtualKey> SqlStore::CreateVirtualKey(
    const v1::VirtualKey& key) {
  v1::VirtualKey row = key;
  row.set_id(NewId("vk_"));
  row.clear_key();  // Only the hash is ever stored.
  if (!row.has_enabled()) row.set_enabled(true);
  const int64_t now = NowMicros();
  STORE_ASSIGN_OR_RETURN(
      int64_t revision,
      Mutate([&](SqlTransaction& txn, int64_t rev) -> absl::Status {
        STORE_RETURN_IF_ERROR(CheckVirtualKeyUnique(txn, row));
        SqlParams params = VirtualKeyParams(row, rev, now);
        params.push_back(now);
        STORE_RETURN_IF_ERROR(Duplicate(
            txn.Query(absl::StrCat("INSERT INTO virtual_keys (",
                                   kVirtualKeyColumns,
                                   ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                                   "$9, $11, $10)"),
                      params)
                .status(),
            "virtual key name or key already exists"));
        return LogChange(txn, rev, kVirtualKeys.change_kind, row.id(), false);
      }));
  SetVersion(revision, now, now, &row);
  return row;
}

absl::StatusOr<v1::VirtualKey> SqlStore::GetVirtualKey(const std::string& id) {
  return GetById(*db_, kVirtualKeys, id);
}

absl::StatusOr<Page<v1::VirtualKey>> SqlStore::ListVirtualKeys(
    const PageRequest& page) {
  return SelectPage(*db_, kVirtualKeys, page);
}

absl::StatusOr<v1::VirtualKey> SqlStore::UpdateVirtualKey(
    const v1::VirtualKey& key, const std::string& expected_etag) {
  v1::VirtualKey updated;
  STORE_RETURN_IF_ERROR(
      Mutate([&](SqlTransaction& txn, int64_t rev) -> absl::Status {
        STORE_ASSIGN_OR_RETURN(
            v1::VirtualKey stored,
            SelectForUpdate(txn, kVirtualKeys, key.id(), expected_etag));
        v1::VirtualKey row = key;
        row.clear_key();
        // The hash identifies the key: keep it unless a new one is given.
        if (row.key_sha256().empty()) {
          row.set_key_sha256(stored.key_sha256());
          row.set_key_prefix(stored.key_prefix());
        }
        if (!row.has_enabled()) row.set_enabled(stored.enabled());
        STORE_RETURN_IF_ERROR(CheckVirtualKeyUnique(txn, row));
        STORE_RETURN_IF_ERROR(Duplicate(
            txn.Query("UPDATE virtual_keys SET name = $2, key_sha256 = $3, "
                      "key_prefix = $4, enabled = $5, expire_time = $6, "
                      "metadata = $7, limits = $8, revision = $9, "
                      "update_time = $10 WHERE id = $1",
                      VirtualKeyParams(row, rev, NowMicros()))
                .status(),
            "virtual key name or key already exists"));
        STORE_ASSIGN_OR_RETURN(updated,
                               LogUpdate(txn, kVirtualKeys, rev, row.id()));
        return absl::OkStatus();
      }).status());
  return updated;
}

absl::StatusOr<int64_t> SqlStore::DeleteVirtualKey(
    const std::string& id, const std::string& expected_etag) {
  return Mutate([&](SqlTransaction& txn, int64_t rev) -> absl::Status {
    STORE_RETURN_IF_ERROR(CheckEtag(txn, kVirtualKeys, id, expected_etag));
    STORE_ASSIGN_OR_RETURN(
        std::vector<std::string> assignments,
        SelectIds(
            txn,
            "SELECT id FROM assignments WHERE virtual_key_id = $1 ORDER BY id",
            {id}));
    STORE_RETURN_IF_ERROR(DeleteLogged(txn, kAssignments, assignments, rev));
    return DeleteLogged(txn, kVirtualKeys, {id}, rev);
  });
}

// ---- Assignments ----

absl::StatusOr<v1::Assignment> SqlStore::CreateAssignment(
    const v1::Assignment& assignment) {
  v1::Assignment row = assignment;
  row.set_id(NewId("as_"));
  const int64_t now = NowMicros();
  STORE_ASSIGN_OR_RETURN(
      int64_t revision,
      Mutate([&](SqlTransaction& txn, int64_t rev) -> absl::Status {
        STORE_RETURN_IF_ERROR(CheckAssignmentReferences(txn, row));
        SqlParams params = AssignmentParams(row, rev, now);
        params.push_back(now);
        STORE_RETURN_IF_ERROR(Duplicate(
            txn.Query(
                   absl::StrCat("INSERT INTO assignments (", kAssignmentColumns,
                                ") VALUES ($1, $2, $3, $4, $5, $6, $8, $7)"),
                   params)
                .status(),
            kDuplicateAssignment));
        return LogChange(txn, rev, kAssignments.change_kind, row.id(), false);
      }));
  SetVersion(revision, now, now, &row);
  return row;
}

absl::StatusOr<v1::Assignment> SqlStore::GetAssignment(const std::string& id) {
  return GetById(*db_, kAssignments, id);
}

absl::StatusOr<Page<v1::Assignment>> SqlStore::ListAssignments(
    const PageRequest& page, const std::string& virtual_key_id) {
  if (virtual_key_id.empty()) return SelectPage(*db_, kAssignments, page);
  return SelectPage(*db_, kAssignments, page, "virtual_key_id = $3",
                    {virtual_key_id});
}

absl::StatusOr<v1::Assignment> SqlStore::UpdateAssignment(
    const v1::Assignment& assignment, const std::string& expected_etag) {
  v1::Assignment updated;
  STORE_RETURN_IF_ERROR(
      Mutate([&](SqlTransaction& txn, int64_t rev) -> absl::Status {
        STORE_RETURN_IF_ERROR(
            CheckEtag(txn, kAssignments, assignment.id(), expected_etag));
        STORE_RETURN_IF_ERROR(CheckAssignmentReferences(txn, assignment));
        STORE_RETURN_IF_ERROR(Duplicate(
            txn.Query("UPDATE assignments SET virtual_key_id = $2, "
                      "connection_id = $3, model_id = $4, limits = $5, "
                      "revision = $6, update_time = $7 WHERE id = $1",
                      AssignmentParams(assignment, rev, NowMicros()))
                .status(),
            kDuplicateAssignment));
        STORE_ASSIGN_OR_RETURN(
            updated, LogUpdate(txn, kAssignments, rev, assignment.id()));
        return absl::OkStatus();
      }).status());
  return updated;
}

absl::StatusOr<int64_t> SqlStore::DeleteAssignment(
    const std::string& id, const std::string& expected_etag) {
  return Mutate([&](SqlTransaction& txn, int64_t rev) -> absl::Status {
    STORE_RETURN_IF_ERROR(CheckEtag(txn, kAssignments, id, expected_etag));
    return DeleteLogged(txn, kAssignments, {id}, rev);
  });
}

// ---- Revision, snapshot, change log ----

absl::StatusOr<int64_t> SqlStore::GetRevision() {
  int64_t revision = 0;
  STORE_RETURN_IF_ERROR(
      db_->InTransaction(TransactionMode::kReadOnlySnapshot,
                         [&](SqlTransaction& txn) -> absl::Status {
                           STORE_ASSIGN_OR_RETURN(revision, ReadRevision(txn));
                           return absl::OkStatus();
                         }));
  return revision;
}

absl::StatusOr<v1::ConfigSnapshot> SqlStore::LoadSnapshot() {
  v1::ConfigSnapshot snapshot;
  STORE_RETURN_IF_ERROR(db_->InTransaction(
      TransactionMode::kReadOnlySnapshot,
      [&](SqlTransaction& txn) -> absl::Status {
        STORE_ASSIGN_OR_RETURN(int64_t revision, ReadRevision(txn));
        snapshot.set_revision(revision);
        STORE_RETURN_IF_ERROR(
            SelectAll(txn, kConnections, snapshot.mutable_connections()));
        STORE_RETURN_IF_ERROR(
            SelectAll(txn, kModels, snapshot.mutable_models()));
        STORE_RETURN_IF_ERROR(
            SelectAll(txn, kVirtualKeys, snapshot.mutable_virtual_keys()));
        return SelectAll(txn, kAssignments, snapshot.mutable_assignments());
      }));
  return snapshot;
}
absl::StatusOr<std::vector<ConfigChange>> SqlStore::ListChangesSince(
    int64_t since, int limit) {
  std::vector<ConfigChange> changes;
  if (limit <= 0) return changes;
  STORE_RETURN_IF_ERROR(db_->InTransaction(
      TransactionMode::kReadOnlySnapshot,
      [&](SqlTransaction& txn) -> absl::Status {
        STORE_ASSIGN_OR_RETURN(
            SqlRows rows,
            txn.Query("SELECT revision, kind, id, deleted FROM config_changes "
                      "WHERE revision > $1 ORDER BY revision, kind, id "
                      "LIMIT $2",
                      {since, int64_t{limit}}));
        for (const SqlRow& row : rows) {
          changes.push_back(ConfigChange{.revision = row.Int(0),
                                         .kind = row.Text(1),
                                         .id = row.Text(2),
                                         .deleted = row.Bool(3)});
        }
        return absl::OkStatus();
      }));
  return changes;
}

// ---- Data planes ----

absl::Status SqlStore::UpsertDataPlane(const v1::DataPlane& dp) {
  return db_->InTransaction(
      TransactionMode::kReadWrite, [&](SqlTransaction& txn) -> absl::Status {
        return txn
            .Query(
                "INSERT INTO data_planes (node_id, address, acked_revision, "
                "last_nack_reason, nacked_revision, connected, "
                "last_contact_time, version) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                "ON CONFLICT (node_id) DO UPDATE SET "
                "address = excluded.address, "
                "acked_revision = excluded.acked_revision, "
                "last_nack_reason = excluded.last_nack_reason, "
                "nacked_revision = excluded.nacked_revision, "
                "connected = excluded.connected, "
                "last_contact_time = excluded.last_contact_time, "
                "version = excluded.version",
                {dp.node_id(), dp.address(), dp.acked_revision(),
                 dp.last_nack_reason(), dp.nacked_revision(),
                 int64_t{dp.connected() ? 1 : 0},
                 ToMicros(dp.last_contact_time()), dp.version()})
            .status();
      });
}

absl::StatusOr<std::vector<v1::DataPlane>> SqlStore::ListDataPlanes() {
  std::vector<v1::DataPlane> planes;
  STORE_RETURN_IF_ERROR(db_->InTransaction(
      TransactionMode::kReadOnlySnapshot,
      [&](SqlTransaction& txn) -> absl::Status {
        STORE_ASSIGN_OR_RETURN(
            SqlRows rows,
            txn.Query("SELECT node_id, address, acked_revision, "
                      "last_nack_reason, nacked_revision, connected, "
                      "last_contact_time, version FROM data_planes "
                      "ORDER BY node_id"));
        for (const SqlRow& row : rows) {
          v1::DataPlane& dp = planes.emplace_back();
          dp.set_node_id(row.Text(0));
          dp.set_address(row.Text(1));
          dp.set_acked_revision(row.Int(2));
          dp.set_last_nack_reason(row.Text(3));
          dp.set_nacked_revision(row.Int(4));
          dp.set_connected(row.Bool(5));
          *dp.mutable_last_contact_time() = FromMicros(row.Int(6));
          dp.set_version(row.Text(7));
        }
        return absl::OkStatus();
      }));
  return planes;
}

// ---- Usage ----

absl::StatusOr<UsageInsertResult> SqlStore::InsertUsage(
    const std::vector<v1::UsageRecord>& records) {
  // Rows per INSERT: one statement per record cost more than the data plane's
  // own work per request; 18 parameters a row stays far below both databases'
  // parameter limits.
  constexpr std::size_t kRowsPerStatement = 100;
  constexpr int kColumns = 18;
  UsageInsertResult result;
  if (records.empty()) return result;
  STORE_RETURN_IF_ERROR(db_->InTransaction(
      TransactionMode::kReadWrite, [&](SqlTransaction& txn) -> absl::Status {
        result = UsageInsertResult();  // Counts only the committed attempt.
        for (std::size_t first = 0; first < records.size();
             first += kRowsPerStatement) {
          const std::size_t n =
              std::min(kRowsPerStatement, records.size() - first);
          std::string sql =
              "INSERT INTO usage_records (request_id, virtual_key_id, model, "
              "remote_model, connection_id, assignment_id, dataplane_id, "
              "prompt_tokens, completion_tokens, cached_tokens, cost_usd, "
              "http_status, status, latency_ms, ttft_ms, start_time, streamed, "
              "endpoint) VALUES ";
          SqlParams params;
          params.reserve(n * kColumns);
          for (std::size_t i = 0; i < n; ++i) {
            const v1::UsageRecord& r = records[first + i];
            absl::StrAppend(&sql, i == 0 ? "(" : ", (");
            for (int c = 1; c <= kColumns; ++c) {
              absl::StrAppend(&sql, c == 1 ? "$" : ", $", i * kColumns + c);
            }
            sql += ")";
            for (SqlValue& v : SqlParams{
                     r.request_id(), r.virtual_key_id(), r.model(),
                     r.remote_model(), r.connection_id(), r.assignment_id(),
                     r.dataplane_id(), r.prompt_tokens(), r.completion_tokens(),
                     r.cached_tokens(), r.cost_usd(), int64_t{r.http_status()},
                     r.status(), r.latency_ms(), r.ttft_ms(),
                     ToMicros(r.start_time()), int64_t{r.streamed() ? 1 : 0},
                     r.endpoint()}) {
              params.push_back(std::move(v));
            }
          }
          // RETURNING yields a row for each record that was new; a request id
          // stored before, or twice in this batch, is skipped.
          sql += " ON CONFLICT (request_id) DO NOTHING RETURNING request_id";
          STORE_ASSIGN_OR_RETURN(SqlRows rows, txn.Query(sql, params));
          result.accepted += static_cast<int>(rows.size());
          result.duplicates += static_cast<int>(n - rows.size());
        }
        return absl::OkStatus();
      }));
  return result;
}

absl::StatusOr<v1::QueryUsageResponse> SqlStore::QueryUsage(
    const v1::QueryUsageRequest& request) {
  // Bucket start as an expression; the width comes from a fixed set, never
  // from the request text.
  std::string bucket;
  if (request.granularity().empty()) {
    bucket = "0";
  } else if (request.granularity() == "hour") {
    bucket = "(start_time / 3600000000) * 3600000000";
  } else if (request.granularity() == "day") {
    bucket = "(start_time / 86400000000) * 86400000000";
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "granularity ", request.granularity(), " is not \"\", hour or day"));
  }

  // Selected group values; '' stands for a dimension not grouped by.
  std::string key_column = "''", model_column = "''", connection_column = "''";
  for (const std::string& name : request.group_by()) {
    STORE_ASSIGN_OR_RETURN(std::string column, GroupColumn(name));
    if (name == "virtual_key") key_column = column;
    if (name == "model") model_column = column;
    if (name == "connection") connection_column = column;
  }

  int page_size = request.page_size() > 0 ? request.page_size() : 100;
  page_size = std::min(page_size, kMaxUsagePageSize);
  int64_t offset = 0;
  if (!request.page_token().empty() &&
      (!absl::SimpleAtoi(request.page_token(), &offset) || offset < 0)) {
    return absl::InvalidArgumentError("page_token is not one this server gave");
  }

  SqlParams params;
  std::vector<std::string> where;
  auto add = [&](absl::string_view condition, SqlValue value) {
    params.push_back(std::move(value));
    where.push_back(absl::StrCat(condition, " $", params.size()));
  };
  if (request.has_start_time()) {
    add("start_time >=", ToMicros(request.start_time()));
  }
  add("start_time <",
      request.has_end_time() ? ToMicros(request.end_time()) : NowMicros());
  if (!request.virtual_key_id().empty()) {
    add("virtual_key_id =", request.virtual_key_id());
  }
  if (!request.model().empty()) add("model =", request.model());
  if (!request.connection_id().empty()) {
    add("connection_id =", request.connection_id());
  }
  params.push_back(int64_t{page_size} + 1);
  const size_t limit_param = params.size();
  params.push_back(offset);
  const size_t offset_param = params.size();

  // Column positions 1-4 of the select list are the grouping keys.
  const std::string sql =
      absl::StrCat("SELECT ", bucket, " AS bucket, ", key_column, " AS vk, ",
                   model_column, " AS m, ", connection_column,
                   " AS cn, COUNT(*), "
                   "SUM(CASE WHEN status = 'ok' THEN 0 ELSE 1 END), "
                   "SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd) "
                   "FROM usage_records WHERE ",
                   absl::StrJoin(where, " AND "),
                   " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 LIMIT $",
                   limit_param, " OFFSET $", offset_param);

  v1::QueryUsageResponse response;
  STORE_RETURN_IF_ERROR(db_->InTransaction(
      TransactionMode::kReadOnlySnapshot,
      [&](SqlTransaction& txn) -> absl::Status {
        STORE_ASSIGN_OR_RETURN(SqlRows rows, txn.Query(sql, params));
        for (const SqlRow& row : rows) {
          if (response.rows_size() == page_size) {
            response.set_next_page_token(std::to_string(offset + page_size));
            break;
          }
          v1::UsageRow* out = response.add_rows();
          if (!request.granularity().empty()) {
            *out->mutable_bucket_start() = FromMicros(row.Int(0));
          }
          out->set_virtual_key_id(row.Text(1));
          out->set_model(row.Text(2));
          out->set_connection_id(row.Text(3));
          out->set_requests(row.Int(4));
          out->set_errors(row.Int(5));
          out->set_prompt_tokens(row.Int(6));
          out->set_completion_tokens(row.Int(7));
          out->set_cost_usd(row.Double(8));
        }
        return absl::OkStatus();
      }));
  return response;
}

absl::StatusOr<std::vector<v1::BudgetSpend>> SqlStore::SpendSince(
    int64_t since_unix) {
  std::vector<v1::BudgetSpend> spend;
  const int64_t since_micros = since_unix * 1000000;
  STORE_RETURN_IF_ERROR(db_->InTransaction(
      TransactionMode::kReadOnlySnapshot,
      [&](SqlTransaction& txn) -> absl::Status {
        // Per assignment, and key-wide (every assignment of the key, and
        // master-free requests without one) with an empty assignment_id.
        STORE_ASSIGN_OR_RETURN(
            SqlRows rows,
            txn.Query("SELECT virtual_key_id, assignment_id, SUM(cost_usd) "
                      "FROM usage_records WHERE start_time >= $1 AND "
                      "virtual_key_id <> '' AND assignment_id <> '' "
                      "GROUP BY virtual_key_id, assignment_id "
                      "UNION ALL "
                      "SELECT virtual_key_id, '', SUM(cost_usd) "
                      "FROM usage_records WHERE start_time >= $1 AND "
                      "virtual_key_id <> '' GROUP BY virtual_key_id "
                      "ORDER BY 1, 2",
                      {since_micros}));
        for (const SqlRow& row : rows) {
          v1::BudgetSpend& s = spend.emplace_back();
          s.set_virtual_key_id(row.Text(0));
          s.set_assignment_id(row.Text(1));
          s.set_period_start_unix(since_unix);
          s.set_spent_usd(row.Double(2));
        }
        return absl::OkStatus();
      }));
  return spend;
}

}  // namespace llmproxy::controlplane
