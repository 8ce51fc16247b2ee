#include "dataplane/config_snapshot.h"

#include <algorithm>

#include "common/log.h"
#include "llmproxy/v1/config_service.pb.h"
#include "llmproxy/v1/resources.pb.h"

namespace llmproxy::dataplane {
namespace {

void SortByPriority(std::vector<const Deployment*>& deployments) {
  std::stable_sort(deployments.begin(), deployments.end(),
                   [](const Deployment* a, const Deployment* b) {
                     return a->priority < b->priority;
                   });
}

void AddToGrant(AliasGrant& grant, const Deployment* d) {
  if (!d->usable) return;
  if (std::find(grant.deployments.begin(), grant.deployments.end(), d) ==
      grant.deployments.end()) {
    grant.deployments.push_back(d);
  }
}

}  // namespace

ConfigSnapshotPtr ConfigSnapshot::Build(const v1::ConfigSnapshot& proto) {
  std::shared_ptr<ConfigSnapshot> snap(new ConfigSnapshot());
  snap->revision_ = proto.revision();

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
      } else {
        log::Warn("connection endpoint unusable",
                  {{"connection_id", c.id()},
                   {"error", std::string(endpoint.status().message())}});
        info->adapter = nullptr;
      }
    }
    conn_by_id[info->id] = info.get();
    snap->connections_.push_back(std::move(info));
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
    d->created_unix = m.create_time().seconds();
    bool model_enabled = !m.has_enabled() || m.enabled();
    d->usable = model_enabled && d->connection != nullptr &&
                d->connection->enabled && d->connection->adapter != nullptr;
    AliasGrant& grant = snap->all_aliases_[d->alias];
    AddToGrant(grant, d.get());
    int64_t& created = snap->alias_created_[d->alias];
    if (created == 0 || (d->created_unix != 0 && d->created_unix < created)) {
      created = d->created_unix;
    }
    deployment_by_id[d->model_id] = d.get();
    deployments_by_connection[m.connection_id()].push_back(d.get());
    snap->deployments_.push_back(std::move(d));
  }
  for (auto& [alias, grant] : snap->all_aliases_) {
    SortByPriority(grant.deployments);
  }

  // id -> sha256 (values of keys_by_sha256_ move on rehash, so no pointers
  // are kept while it grows).
  absl::flat_hash_map<std::string, std::string> key_by_id;
  for (const v1::VirtualKey& k : proto.virtual_keys()) {
    if (k.key_sha256().empty()) continue;
    VirtualKeyInfo& info = snap->keys_by_sha256_[k.key_sha256()];
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
    VirtualKeyInfo& info = snap->keys_by_sha256_[key->second];
    for (const Deployment* d : covered) AddToGrant(info.aliases[d->alias], d);
  }
  for (auto& [sha, info] : snap->keys_by_sha256_) {
    for (auto& [alias, grant] : info.aliases) SortByPriority(grant.deployments);
  }
  return snap;
}

const VirtualKeyInfo* ConfigSnapshot::FindKey(
    std::string_view key_sha256) const {
  auto it = keys_by_sha256_.find(AbslView(key_sha256));
  return it == keys_by_sha256_.end() ? nullptr : &it->second;
}

const AliasGrant* ConfigSnapshot::FindAlias(std::string_view alias) const {
  auto it = all_aliases_.find(AbslView(alias));
  return it == all_aliases_.end() ? nullptr : &it->second;
}

int64_t ConfigSnapshot::AliasCreatedUnix(std::string_view alias) const {
  auto it = alias_created_.find(AbslView(alias));
  return it == alias_created_.end() ? 0 : it->second;
}

}  // namespace llmproxy::dataplane
