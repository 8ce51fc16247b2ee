#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "dataplane/provider_adapter.h"
#include "dataplane/upstream_endpoint.h"

namespace llmproxy::v1 {
class ConfigSnapshot;
}  // namespace llmproxy::v1

namespace llmproxy::dataplane {

// A Connection as the request path needs it: endpoint already parsed,
// adapter already chosen.
struct ConnectionInfo {
  std::string id;
  std::string name;
  std::string provider;
  UpstreamEndpoint endpoint;
  std::string api_key;
  std::string api_version;
  std::vector<std::pair<std::string, std::string>> extra_headers;
  int32_t timeout_ms = 0;
  bool enabled = true;
  // nullptr when the provider is not supported or the endpoint is invalid.
  const ProviderAdapter* adapter = nullptr;
};

// One Model row: a deployment of an alias on a connection.
struct Deployment {
  std::string model_id;
  std::string alias;
  std::string remote_model;
  const ConnectionInfo* connection = nullptr;
  int32_t weight = 1;  // >= 1
  int32_t priority = 0;
  int64_t created_unix = 0;
  // Model and connection enabled, provider supported, endpoint valid.
  bool usable = false;
};

// What a key may call under one alias.
struct AliasGrant {
  // Usable deployments the key's assignments cover, by ascending priority.
  std::vector<const Deployment*> deployments;
};

struct VirtualKeyInfo {
  std::string id;
  std::string name;
  std::string key_prefix;
  bool enabled = true;
  // Unset: never expires.
  std::optional<std::chrono::system_clock::time_point> expire_time;
  // alias -> grant; an alias is present when any assignment covers any of
  // its deployments, even if none is usable now (503 rather than 403).
  absl::flat_hash_map<std::string, AliasGrant> aliases;
};

// The immutable, request-ready form of a v1::ConfigSnapshot. Built off the
// request path (by the config subscriber), then shared read-only by every
// request thread through a shared_ptr<const ConfigSnapshot>: no locks, and
// nothing in it ever changes after Build returns.
class ConfigSnapshot {
 public:
  // Never fails: rows that cannot be used (unknown provider, bad endpoint,
  // dangling ids) make their deployments unusable and are logged.
  static std::shared_ptr<const ConfigSnapshot> Build(
      const v1::ConfigSnapshot& proto);

  ConfigSnapshot(const ConfigSnapshot&) = delete;
  ConfigSnapshot& operator=(const ConfigSnapshot&) = delete;

  int64_t revision() const { return revision_; }

  // The key whose Sha256Hex is `key_sha256`, or nullptr.
  const VirtualKeyInfo* FindKey(std::string_view key_sha256) const;

  // Every alias with all its usable deployments (what the master key sees);
  // nullptr when no model has that name.
  const AliasGrant* FindAlias(std::string_view alias) const;
  const absl::flat_hash_map<std::string, AliasGrant>& aliases() const {
    return all_aliases_;
  }
  // Earliest create time of an alias's models (for /v1/models), 0 if unknown.
  int64_t AliasCreatedUnix(std::string_view alias) const;

 private:
  ConfigSnapshot() = default;

  int64_t revision_ = 0;
  // Stable storage: the maps below point into these.
  std::vector<std::unique_ptr<ConnectionInfo>> connections_;
  std::vector<std::unique_ptr<Deployment>> deployments_;
  absl::flat_hash_map<std::string, VirtualKeyInfo> keys_by_sha256_;
  absl::flat_hash_map<std::string, AliasGrant> all_aliases_;
  absl::flat_hash_map<std::string, int64_t> alias_created_;
};

using ConfigSnapshotPtr = std::shared_ptr<const ConfigSnapshot>;

// Abseil's heterogeneous lookup takes absl::string_view, which this Abseil
// build does not alias to std::string_view.
inline absl::string_view AbslView(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace llmproxy::dataplane
