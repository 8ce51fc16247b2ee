#include "controlplane/admin_auth.h"

#include <openssl/crypto.h>

#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/crypto/sha256.h"

namespace llmproxy::controlplane {
namespace {

constexpr absl::string_view kBearer = "bearer ";

std::string HashOrEmpty(const std::string& token) {
  return token.empty() ? std::string() : Sha256Hex(token);
}

// The token of the call's "authorization: Bearer <token>" header, if any.
std::optional<std::string> BearerToken(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::nullopt;
  absl::string_view value(it->second.data(), it->second.size());
  if (value.size() <= kBearer.size() ||
      !absl::StartsWithIgnoreCase(value, kBearer)) {
    return std::nullopt;
  }
  return std::string(absl::StripAsciiWhitespace(value.substr(kBearer.size())));
}

bool HashesEqual(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

grpc::Status Unauthenticated(bool had_token) {
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      had_token ? "invalid bearer token"
                                : "missing \"authorization: Bearer <token>\" "
                                  "metadata");
}

}  // namespace

TokenAuthenticator::TokenAuthenticator(std::string admin_token,
                                       std::string dataplane_token)
    : admin_hash_(HashOrEmpty(admin_token)),
      dataplane_hash_(HashOrEmpty(dataplane_token)) {}

grpc::Status TokenAuthenticator::CheckAdmin(
    const grpc::ServerContextBase& context) const {
  if (admin_hash_.empty()) return grpc::Status::OK;
  std::optional<std::string> token = BearerToken(context);
  if (!token) return Unauthenticated(false);
  if (HashesEqual(Sha256Hex(*token), admin_hash_)) return grpc::Status::OK;
  return Unauthenticated(true);
}

grpc::Status TokenAuthenticator::CheckDataPlane(
    const grpc::ServerContextBase& context) const {
  if (admin_hash_.empty() && dataplane_hash_.empty()) return grpc::Status::OK;
  std::optional<std::string> token = BearerToken(context);
  if (!token) return Unauthenticated(false);
  std::string hash = Sha256Hex(*token);
  if (!dataplane_hash_.empty() && HashesEqual(hash, dataplane_hash_)) {
    return grpc::Status::OK;
  }
  if (!admin_hash_.empty() && HashesEqual(hash, admin_hash_)) {
    return grpc::Status::OK;
  }
  return Unauthenticated(true);
}

}  // namespace llmproxy::controlplane
