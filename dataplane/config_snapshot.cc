#include "dataplane/config_snapshot.h"

#include <algorithm>

#include "common/log.h"
#include "llmproxy/v1/config_service.pb.h"
#include "llmproxy/v1/resources.pb.h"

namespace llmproxy::dataplane {
namespace {

// Sorts a grant's deployments by priority (stable), keeping each one's
// assignment beside it.
void SortByPriority(AliasGrant& grant) {
  std::vector<std::size_t> order(grant.deployments.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(
      order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return grant.deployments[a]->priority < grant.deployments[b]->priority;
      });
  AliasGrant sorted;
  const bool with_assignments = !grant.assignments.empty();
  for (std::size_t i : order) {
    sorted.deployments.push_back(grant.deployments[i]);
    if (with_assignments) sorted.assignments.push_back(grant.assignments[i]);
  }
  grant = std::move(sorted);
}

// Adds a usable deployment to a grant once (the first assignment covering
// it is the one its traffic is limited by).
void AddToGrant(AliasGrant& grant, const Deployment* d,
                const AssignmentInfo* assignment) {
  if (!d->usable) return;
  if (std::find(grant.deployments.begin(), grant.deployments.end(), d) !=
      grant.deployments.end()) {
    return;
  }
  grant.deployments.push_back(d);
  if (assignment != nullptr) grant.assignments.push_back(assignment);
}

LimitSpec SpecFromProto(const v1::Limits& limits) {
  LimitSpec spec;
  spec.requests_per_second = std::max(0.0, limits.requests_per_second());
  spec.request_burst = std::max(0.0, limits.request_burst());
  spec.tokens_per_minute = std::max<int64_t>(0, limits.tokens_per_minute());
  spec.token_burst = std::max<int64_t>(0, limits.token_burst());
  spec.max_concurrent = std::max(0, limits.max_concurrent());
  spec.budget_usd = std::max(0.0, limits.budget_usd());
  return spec;
}

}  // namespace

// Records a scope's limits; returns its slot, or -1 when it has none.
int32_t ConfigSnapshot::AddScope(Resources& res, const std::string& scope_id,
                                 const std::string& key_id,
                                 const std::string& assignment_id,
                                 const v1::Limits& limits) {
  LimitSpec spec = SpecFromProto(limits);
  if (spec.unlimited()) return -1;
  LimitScope scope;
  scope.scope_id = scope_id;
  scope.virtual_key_id = key_id;
  scope.assignment_id = assignment_id;
  scope.spec = spec;
  scope.budget_period =
      limits.budget_period().empty() ? "month" : limits.budget_period();
  res.scopes.push_back(std::move(scope));
  return static_cast<int32_t>(res.scopes.size() - 1);
}

absl::StatusOr<ConfigSnapshotPtr> ConfigSnapshot::Build(
    const v1::ConfigSnapshot& proto, LimitRegistry* registry) {
  std::shared_ptr<ConfigSnapshot> snap(new ConfigSnapshot());
  snap->revision_ = proto.revision();
  auto res = std::make_shared<Resources>();

  absl::flat_hash_map<std::string, const ConnectionInfo*> conn_by_id;
  for (const v1::Connection& c : proto.connections()) {
    auto info = std::make_unique<ConnectionInfo>();
    info->id = c.id();
    info->name = c.name();
    info->provider = c.provider();
    info->api_key = c.api_key();
    info->api_version = c.api_version();
    for (const auto& [name, value] : c.extra_headers()) {
      info->extra_headers.emplace_back(name, value);
    }
    std::sort(info->extra_headers.begin(), info->extra_headers.end());
    info->timeout_ms = c.timeout_ms();
    info->enabled = !c.has_enabled() || c.enabled();
    info->adapter = AdapterForProvider(c.provider());
    if (info->adapter == nullptr) {
      log::Warn("connection provider not supported by this data plane",
                {{"connection_id", c.id()}, {"provider", c.provider()}});
    } else {
      std::string_view url = c.endpoint();
      if (url.empty()) url = info->adapter->DefaultEndpoint();
      auto endpoint = ParseUpstreamEndpoint(url);
      if (endpoint.ok()) {
        info->endpoint = *std::move(endpoint);
      } else if (info->enabled) {
        // Serving a config where traffic to this connection would fail is
        // worse than keeping the previous one: reject it (NACK).
        return absl::InvalidArgumentError(
            "connection " + c.id() + " has an unusable endpoint: " +
            std::string(endpoint.status().message()));
      } else {
        log::Warn("connection endpoint unusable",
                  {{"connection_id", c.id()},
                   {"error", std::string(endpoint.status().message())}});
        info->adapter = nullptr;
      }
    }
    conn_by_id[info->id] = info.get();
    res->connections.push_back(std::move(info));
  }

  absl::flat_hash_map<std::string, const Deployment*> deployment_by_id;
  absl::flat_hash_map<std::string, std::vector<const Deployment*>>
      deployments_by_connection;
  for (const v1::Model& m : proto.models()) {
    auto d = std::make_unique<Deployment>();
    d->model_id = m.id();
    d->alias = m.name();
    d->remote_model = m.remote_model().empty() ? m.name() : m.remote_model();
    auto conn = conn_by_id.find(m.connection_id());
    d->connection = conn == conn_by_id.end() ? nullptr : conn->second;
    d->weight = m.weight() > 0 ? m.weight() : 1;
    d->priority = m.priority();
    d->input_price_per_million = std::max(0.0, m.input_price_per_million());
    d->output_price_per_million = std::max(0.0, m.output_price_per_million());
    d->created_unix = m.create_time().seconds();
    bool model_enabled = !m.has_enabled() || m.enabled();
    d->usable = model_enabled && d->connection != nullptr &&
                d->connection->enabled && d->connection->adapter != nullptr;
    if (d->usable) {
      for (std::size_t op = 0; op < kOperationCount; ++op) {
        auto upstream = PrepareUpstreamRequest(*d->connection, d->remote_model,
                                               static_cast<Operation>(op));
        if (upstream.ok()) d->upstream[op] = *std::move(upstream);
      }
    }
    AliasGrant& grant = res->all_aliases[d->alias];
    AddToGrant(grant, d.get(), nullptr);
    int64_t& created = res->alias_created[d->alias];
    if (created == 0 || (d->created_unix != 0 && d->created_unix < created)) {
      created = d->created_unix;
    }
    deployment_by_id[d->model_id] = d.get();
    deployments_by_connection[m.connection_id()].push_back(d.get());
    res->deployments.push_back(std::move(d));
  }
  for (auto& [alias, grant] : res->all_aliases) SortByPriority(grant);

  // id -> sha256 (values of keys_by_sha256 move on rehash, so no pointers
  // are kept while it grows).
  absl::flat_hash_map<std::string, std::string> key_by_id;
  for (const v1::VirtualKey& k : proto.virtual_keys()) {
    if (k.key_sha256().empty()) continue;
    VirtualKeyInfo& info = res->keys_by_sha256[k.key_sha256()];
    info.id = k.id();
    info.name = k.name();
    info.key_prefix = k.key_prefix();
    info.enabled = !k.has_enabled() || k.enabled();
    if (k.has_expire_time()) {
      info.expire_time = std::chrono::system_clock::time_point(
          std::chrono::seconds(k.expire_time().seconds()) +
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::nanoseconds(k.expire_time().nanos())));
    }
    info.limit_slot = AddScope(*res, k.id(), k.id(), "", k.limits());
    key_by_id[info.id] = k.key_sha256();
  }

  for (const v1::Assignment& a : proto.assignments()) {
    auto key = key_by_id.find(a.virtual_key_id());
    if (key == key_by_id.end()) continue;
    std::vector<const Deployment*> covered;
    if (a.has_connection_id()) {
      auto it = deployments_by_connection.find(a.connection_id());
      if (it != deployments_by_connection.end()) covered = it->second;
    } else if (a.has_model_id()) {
      auto it = deployment_by_id.find(a.model_id());
      if (it != deployment_by_id.end()) covered.push_back(it->second);
    }
    auto assignment = std::make_unique<AssignmentInfo>();
    assignment->id = a.id();
    assignment->limit_slot =
        AddScope(*res, a.id(), a.virtual_key_id(), a.id(), a.limits());
    VirtualKeyInfo& info = res->keys_by_sha256[key->second];
    for (const Deployment* d : covered) {
      AddToGrant(info.aliases[d->alias], d, assignment.get());
    }
    res->assignments.push_back(std::move(assignment));
  }
  for (auto& [sha, info] : res->keys_by_sha256) {
    for (auto& [alias, grant] : info.aliases) SortByPriority(grant);
  }
  snap->resources_ = std::move(res);
  // Last, once nothing can fail any more: the registry must only see the
  // specs of a snapshot that is going to be served.
  snap->BuildLimits(proto.budget_spend(), proto.fleet_size(), registry);
  return snap;
}

ConfigSnapshotPtr ConfigSnapshot::WithFleetFigures(
    const google::protobuf::RepeatedPtrField<v1::BudgetSpend>& budget_spend,
    int32_t fleet_size, LimitRegistry* registry) const {
  std::shared_ptr<ConfigSnapshot> snap(new ConfigSnapshot());
  snap->revision_ = revision_;
  snap->resources_ = resources_;
  snap->BuildLimits(budget_spend, fleet_size, registry, &limits_);
  return snap;
}

void ConfigSnapshot::BuildLimits(
    const google::protobuf::RepeatedPtrField<v1::BudgetSpend>& budget_spend,
    int32_t fleet_size, LimitRegistry* registry,
    const std::vector<LimitStatePtr>* previous) {
  const std::vector<LimitScope>& scopes = resources_->scopes;
  limits_.assign(scopes.size(), nullptr);
  if (registry == nullptr) return;
  // (key id, assignment id) -> figures.
  absl::flat_hash_map<std::pair<std::string_view, std::string_view>,
                      const v1::BudgetSpend*>
      spend;
  for (const v1::BudgetSpend& s : budget_spend) {
    spend[{s.virtual_key_id(), s.assignment_id()}] = &s;
  }
  for (std::size_t slot = 0; slot < scopes.size(); ++slot) {
    const LimitScope& scope = scopes[slot];
    LimitSpec spec = scope.spec;
    if (spec.budget_usd > 0) {
      spec.fleet_size = std::max(1, fleet_size);
      auto it = spend.find(std::pair<std::string_view, std::string_view>(
          scope.virtual_key_id, scope.assignment_id));
      if (it != spend.end()) {
        spec.fleet_spent_usd = it->second->spent_usd();
        spec.budget_period_start = it->second->period_start_unix();
      }
    }
    if (previous != nullptr && (*previous)[slot] != nullptr &&
        (*previous)[slot]->spec == spec) {
      // Same scope, same figures: the state as it is (no registry lookup).
      limits_[slot] = (*previous)[slot];
      continue;
    }
    limits_[slot] = registry->Get(scope.scope_id, spec);
  }
}

const AssignmentInfo* AliasGrant::AssignmentFor(const Deployment* d) const {
  for (std::size_t i = 0; i < deployments.size() && i < assignments.size();
       ++i) {
    if (deployments[i] == d) return assignments[i];
  }
  return nullptr;
}

const VirtualKeyInfo* ConfigSnapshot::FindKey(
    std::string_view key_sha256) const {
  auto it = resources_->keys_by_sha256.find(AbslView(key_sha256));
  return it == resources_->keys_by_sha256.end() ? nullptr : &it->second;
}

const AliasGrant* ConfigSnapshot::FindAlias(std::string_view alias) const {
  auto it = resources_->all_aliases.find(AbslView(alias));
  return it == resources_->all_aliases.end() ? nullptr : &it->second;
}

int64_t ConfigSnapshot::AliasCreatedUnix(std::string_view alias) const {
  auto it = resources_->alias_created.find(AbslView(alias));
  return it == resources_->alias_created.end() ? 0 : it->second;
}

}  // namespace llmproxy::dataplane
