#include "controlplane/snapshot_builder.h"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace llmproxy::controlplane {

int64_t BudgetPeriodStart(const std::string& period, absl::Time now) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  absl::CivilDay today = absl::ToCivilDay(now, utc);
  absl::CivilDay start;
  if (period == "total") {
    return 0;
  } else if (period == "day") {
    start = today;
  } else if (period == "week") {
    start = absl::PrevWeekday(today + 1, absl::Weekday::monday);
  } else {  // "month" and the "" default.
    start = absl::CivilDay(absl::CivilMonth(today));
  }
  return absl::ToUnixSeconds(absl::FromCivil(start, utc));
}

absl::StatusOr<v1::ConfigSnapshot> BuildDataPlaneSnapshot(
    Store& store, const SecretBox& secret_box, int fleet_size, absl::Time now) {
  absl::StatusOr<v1::ConfigSnapshot> loaded = store.LoadSnapshot();
  if (!loaded.ok()) return loaded.status();
  v1::ConfigSnapshot snapshot = *std::move(loaded);

  for (v1::Connection& connection : *snapshot.mutable_connections()) {
    absl::StatusOr<std::string> plain = secret_box.Open(connection.api_key());
    if (!plain.ok()) {
      return absl::DataLossError(absl::StrCat(
          "cannot open the api_key of connection ", connection.id(),
          " (was it sealed with another encryption key?)"));
    }
    connection.set_api_key(*std::move(plain));
  }
  for (v1::VirtualKey& key : *snapshot.mutable_virtual_keys()) {
    key.clear_key();
  }

  // Which (key, assignment) pairs have a budget, and since when it counts;
  // the key-wide budget has an empty assignment id.
  std::map<std::pair<std::string, std::string>, int64_t> budgets;
  for (const v1::VirtualKey& key : snapshot.virtual_keys()) {
    if (key.limits().budget_usd() > 0) {
      budgets[{key.id(), ""}] =
          BudgetPeriodStart(key.limits().budget_period(), now);
    }
  }
  for (const v1::Assignment& assignment : snapshot.assignments()) {
    if (assignment.limits().budget_usd() > 0) {
      budgets[{assignment.virtual_key_id(), assignment.id()}] =
          BudgetPeriodStart(assignment.limits().budget_period(), now);
    }
  }
  // One query per distinct period start (at most four: day, week, month,
  // total), not one per key.
  std::set<int64_t> starts;
  for (const auto& [_, start] : budgets) starts.insert(start);
  std::map<std::pair<int64_t, std::pair<std::string, std::string>>, double>
      spent;
  for (int64_t start : starts) {
    absl::StatusOr<std::vector<v1::BudgetSpend>> rows = store.SpendSince(start);
    if (!rows.ok()) return rows.status();
    for (const v1::BudgetSpend& row : *rows) {
      spent[{start, {row.virtual_key_id(), row.assignment_id()}}] =
          row.spent_usd();
    }
  }
  for (const auto& [owner, start] : budgets) {
    v1::BudgetSpend* spend = snapshot.add_budget_spend();
    spend->set_virtual_key_id(owner.first);
    spend->set_assignment_id(owner.second);
    spend->set_period_start_unix(start);
    auto it = spent.find({start, owner});
    spend->set_spent_usd(it == spent.end() ? 0.0 : it->second);
  }
  snapshot.set_fleet_size(fleet_size);
  return snapshot;
}

}  // namespace llmproxy::controlplane
