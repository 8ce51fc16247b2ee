#include "dataplane/virtual_key_auth.h"

#include <openssl/crypto.h>

#include "absl/status/status.h"
#include "common/crypto/sha256.h"
#include "dataplane/ascii.h"

namespace llmproxy::dataplane {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::string_view ExtractApiKey(const HeaderLookup& header) {
  std::string_view auth = Trim(header("authorization"));
  if (auth.size() > 7 && StartsWithIgnoreCase(auth, "bearer ")) {
    std::string_view key = Trim(auth.substr(7));
    if (!key.empty()) return key;
  }
  if (std::string_view key = Trim(header("api-key")); !key.empty()) return key;
  if (std::string_view key = Trim(header("x-api-key")); !key.empty()) {
    return key;
  }
  return {};
}

const AliasGrant* Caller::Grant(const ConfigSnapshot& snapshot,
                                std::string_view alias) const {
  if (is_master) return snapshot.FindAlias(alias);
  if (key == nullptr) return nullptr;
  auto it = key->aliases.find(AbslView(alias));
  return it == key->aliases.end() ? nullptr : &it->second;
}

ApiKeyHasher::~ApiKeyHasher() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string_view ApiKeyHasher::Hash(std::string_view api_key) {
  // Constant time, like every comparison with a key: the previous key may
  // have come from another client behind the same connection.
  if (!sha256_.empty() && key_.size() == api_key.size() &&
      CRYPTO_memcmp(key_.data(), api_key.data(), key_.size()) == 0) {
    return sha256_;
  }
  OPENSSL_cleanse(key_.data(), key_.size());
  key_.assign(api_key);
  sha256_ = Sha256Hex(api_key);
  return sha256_;
}

absl::StatusOr<Caller> Authenticate(const ConfigSnapshot& snapshot,
                                    std::string_view api_key,
                                    std::string_view master_key_sha256,
                                    std::chrono::system_clock::time_point now,
                                    ApiError* error, ApiKeyHasher* hasher) {
  auto fail = [&](std::string message) {
    absl::Status status = absl::UnauthenticatedError(message);
    if (error != nullptr) *error = InvalidApiKey(std::move(message));
    return status;
  };
  if (api_key.empty()) {
    return fail(
        "You didn't provide an API key. Send it as 'Authorization: Bearer "
        "<key>'.");
  }
  std::string own_hash;
  const std::string_view sha = hasher != nullptr
                                   ? hasher->Hash(api_key)
                                   : (own_hash = Sha256Hex(api_key));
  const VirtualKeyInfo* key = snapshot.FindKey(sha);
  if (key == nullptr) {
    // The master key is compared only for a key that is no virtual key: the
    // common request skips the comparison, and what its timing could tell
    // (this is not a virtual key) the lookup's timing tells already.
    if (!master_key_sha256.empty() && master_key_sha256.size() == sha.size() &&
        CRYPTO_memcmp(sha.data(), master_key_sha256.data(), sha.size()) == 0) {
      return Caller{.is_master = true, .key = nullptr};
    }
    return fail("Incorrect API key provided.");
  }
  if (!key->enabled) return fail("This API key has been revoked.");
  if (key->expire_time.has_value() && *key->expire_time <= now) {
    return fail("This API key has expired.");
  }
  return Caller{.is_master = false, .key = key};
}

}  // namespace llmproxy::dataplane
