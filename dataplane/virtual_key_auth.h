#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "dataplane/config_snapshot.h"
#include "dataplane/openai_error.h"

namespace llmproxy::dataplane {

// Looks a request header up by (case-insensitive) name; empty if absent.
using HeaderLookup = std::function<std::string_view(std::string_view name)>;

// The client's key, from "Authorization: Bearer <key>" (OpenAI SDKs),
// "api-key: <key>" (Azure SDKs) or "x-api-key: <key>" (Anthropic-style
// clients), in that order of preference. Empty when none carries a key.
std::string_view ExtractApiKey(const HeaderLookup& header);

// Who is calling and what they may use, for the life of one request. Points
// into the snapshot the request holds.
struct Caller {
  bool is_master = false;
  const VirtualKeyInfo* key = nullptr;  // nullptr for the master key

  // The grant for `alias`, or nullptr when this caller may not use it.
  const AliasGrant* Grant(const ConfigSnapshot& snapshot,
                          std::string_view alias) const;
};

// Sha256Hex of API keys, remembering the last key and its hash: a client
// sends the same key with every request on a keep-alive connection, and the
// hash is most of what authenticating costs. One per client connection;
// the key it keeps is wiped when it is replaced or destroyed.
class ApiKeyHasher {
 public:
  ApiKeyHasher() = default;
  ~ApiKeyHasher();
  ApiKeyHasher(const ApiKeyHasher&) = delete;
  ApiKeyHasher& operator=(const ApiKeyHasher&) = delete;

  // Valid until the next call.
  std::string_view Hash(std::string_view api_key);

 private:
  std::string key_;
  std::string sha256_;
};

// Authenticates `api_key` against `snapshot`. The master key (given as its
// Sha256Hex, empty when none is configured) may call every model; a virtual
// key with the same secret is that virtual key instead. Errors are
// 401 ApiErrors: missing, unknown, disabled or expired key. `hasher`, when
// given, hashes the key (else it is hashed here).
absl::StatusOr<Caller> Authenticate(const ConfigSnapshot& snapshot,
                                    std::string_view api_key,
                                    std::string_view master_key_sha256,
                                    std::chrono::system_clock::time_point now,
                                    ApiError* error,
                                    ApiKeyHasher* hasher = nullptr);

}  // namespace llmproxy::dataplane
