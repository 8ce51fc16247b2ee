#pragma once

#include <array>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace llmproxy {

// Authenticated encryption of secrets at rest (provider API keys in the
// database, snapshots on a data plane's disk) with AES-256-GCM.
//
// A sealed value is the text "v1:" + base64(nonce[12] | ciphertext | tag[16]);
// a fresh random nonce is drawn for every Seal, so sealing the same secret
// twice gives different texts.
class SecretBox {
 public:
  static constexpr std::size_t kKeySize = 32;

  // Parses key material given as 64 hex characters or as base64 of 32 bytes
  // (what `openssl rand -base64 32` prints). INVALID_ARGUMENT otherwise; the
  // error never echoes the material.
  static absl::StatusOr<SecretBox> FromKeyMaterial(std::string_view material);

  explicit SecretBox(const std::array<unsigned char, kKeySize>& key)
      : key_(key) {}

  std::string Seal(std::string_view plaintext) const;

  // DATA_LOSS when the text was not sealed with this key or was altered.
  absl::StatusOr<std::string> Open(std::string_view sealed) const;

 private:
  std::array<unsigned char, kKeySize> key_;
};

// Standard base64 with padding.
std::string Base64Encode(std::string_view data);
// INVALID_ARGUMENT on malformed input.
absl::StatusOr<std::string> Base64Decode(std::string_view text);

}  // namespace llmproxy
