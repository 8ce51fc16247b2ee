#include "controlplane/snapshot_builder.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
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

absl::StatusOr<v1::ConfigSnapshot> LoadDataPlaneConfig(
    Store& store, const SecretBox& secret_box) {
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
  snapshot.clear_budget_spend();
  snapshot.clear_fleet_size();
  return snapshot;
}

std::vector<BudgetOwner> BudgetOwners(const v1::ConfigSnapshot& config) {
  std::vector<BudgetOwner> owners;
  for (const v1::VirtualKey& key : config.virtual_keys()) {
    if (key.limits().budget_usd() > 0) {
      owners.push_back({key.id(), "", key.limits().budget_period()});
    }
  }
  for (const v1::Assignment& assignment : config.assignments()) {
    if (assignment.limits().budget_usd() > 0) {
      owners.push_back({assignment.virtual_key_id(), assignment.id(),
                        assignment.limits().budget_period()});
    }
  }
  std::sort(owners.begin(), owners.end(),
            [](const BudgetOwner& a, const BudgetOwner& b) {
              return std::tie(a.virtual_key_id, a.assignment_id) <
                     std::tie(b.virtual_key_id, b.assignment_id);
            });
  return owners;
}

absl::StatusOr<std::vector<v1::BudgetSpend>> ComputeBudgetSpend(
    Store& store, const std::vector<BudgetOwner>& owners, absl::Time now) {
  std::vector<int64_t> starts;
  starts.reserve(owners.size());
  std::set<int64_t> distinct;
  for (const BudgetOwner& owner : owners) {
    starts.push_back(BudgetPeriodStart(owner.period, now));
    distinct.insert(starts.back());
  }
  // (period start, key id, assignment id) -> USD.
  std::map<std::tuple<int64_t, std::string, std::string>, double> spent;
  for (int64_t start : distinct) {
    absl::StatusOr<std::vector<v1::BudgetSpend>> rows = store.SpendSince(start);
    if (!rows.ok()) return rows.status();
    for (const v1::BudgetSpend& row : *rows) {
      spent[{start, row.virtual_key_id(), row.assignment_id()}] =
          row.spent_usd();
    }
  }
  std::vector<v1::BudgetSpend> result;
  result.reserve(owners.size());
  for (std::size_t i = 0; i < owners.size(); ++i) {
    v1::BudgetSpend& spend = result.emplace_back();
    spend.set_virtual_key_id(owners[i].virtual_key_id);
    spend.set_assignment_id(owners[i].assignment_id);
    spend.set_period_start_unix(starts[i]);
    auto it = spent.find(
        {starts[i], owners[i].virtual_key_id, owners[i].assignment_id});
    spend.set_spent_usd(it == spent.end() ? 0.0 : it->second);
  }
  return result;
}

absl::StatusOr<v1::ConfigSnapshot> BuildDataPlaneSnapshot(
    Store& store, const SecretBox& secret_box, int fleet_size, absl::Time now) {
  absl::StatusOr<v1::ConfigSnapshot> snapshot =
      LoadDataPlaneConfig(store, secret_box);
  if (!snapshot.ok()) return snapshot.status();
  absl::StatusOr<std::vector<v1::BudgetSpend>> spend =
      ComputeBudgetSpend(store, BudgetOwners(*snapshot), now);
  if (!spend.ok()) return spend.status();
  for (v1::BudgetSpend& row : *spend) {
    *snapshot->add_budget_spend() = std::move(row);
  }
  snapshot->set_fleet_size(fleet_size);
  return snapshot;
}

}  // namespace llmproxy::controlplane
