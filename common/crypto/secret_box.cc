#include "common/crypto/secret_box.h"

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

#include "absl/status/status.h"
#include "common/crypto/random.h"

namespace llmproxy {
namespace {

constexpr std::string_view kPrefix = "v1:";
constexpr int kNonceSize = 12;
constexpr int kTagSize = 16;

using CipherCtx =
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherCtx NewCtx() {
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  if (!ctx) throw std::bad_alloc();
  return ctx;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string Base64Encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          Bytes(data), static_cast<int>(data.size()));
  out.resize(n);
  return out;
}

absl::StatusOr<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return absl::InvalidArgumentError("base64 length is not a multiple of 4");
  }
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          Bytes(text), static_cast<int>(text.size()));
  if (n < 0) return absl::InvalidArgumentError("malformed base64");
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

absl::StatusOr<SecretBox> SecretBox::FromKeyMaterial(
    std::string_view material) {
  std::array<unsigned char, kKeySize> key{};
  if (material.size() == 2 * kKeySize) {
    bool ok = true;
    for (std::size_t i = 0; i < kKeySize && ok; ++i) {
      int hi = HexValue(material[2 * i]), lo = HexValue(material[2 * i + 1]);
      ok = hi >= 0 && lo >= 0;
      key[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    if (ok) return SecretBox(key);
  }
  auto decoded = Base64Decode(material);
  if (decoded.ok() && decoded->size() == kKeySize) {
    std::copy(decoded->begin(), decoded->end(), key.begin());
    return SecretBox(key);
  }
  return absl::InvalidArgumentError(
      "encryption key must be 32 bytes given as 64 hex characters or base64 "
      "(e.g. `openssl rand -base64 32`)");
}

std::string SecretBox::Seal(std::string_view plaintext) const {
  unsigned char nonce[kNonceSize];
  RandomBytes(nonce, kNonceSize);
  std::string raw(kNonceSize + plaintext.size() + kTagSize, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  std::copy(nonce, nonce + kNonceSize, out);

  CipherCtx ctx = NewCtx();
  int len = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(),
                         nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out + kNonceSize, &len, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + kNonceSize + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize,
                          out + kNonceSize + plaintext.size()) != 1) {
    throw std::runtime_error("AES-256-GCM encryption failed");
  }
  return std::string(kPrefix) + Base64Encode(raw);
}

absl::StatusOr<std::string> SecretBox::Open(std::string_view sealed) const {
  if (sealed.substr(0, kPrefix.size()) != kPrefix) {
    return absl::DataLossError("sealed secret has an unknown format");
  }
  auto raw = Base64Decode(sealed.substr(kPrefix.size()));
  if (!raw.ok() || raw->size() < kNonceSize + kTagSize) {
    return absl::DataLossError("sealed secret is malformed");
  }
  const auto* in = Bytes(*raw);
  std::size_t text_size = raw->size() - kNonceSize - kTagSize;
  std::string plain(text_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  unsigned char tag[kTagSize];
  std::copy(in + kNonceSize + text_size, in + raw->size(), tag);

  CipherCtx ctx = NewCtx();
  int len = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(),
                         in) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out, &len, in + kNonceSize,
                        static_cast<int>(text_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag) !=
          1 ||
      EVP_DecryptFinal_ex(ctx.get(), out + len, &len) != 1) {
    return absl::DataLossError(
        "sealed secret does not open with this encryption key");
  }
  return plain;
}

}  // namespace llmproxy
