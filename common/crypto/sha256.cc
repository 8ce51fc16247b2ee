#include "common/crypto/sha256.h"

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

#include "common/crypto/hex.h"

namespace llmproxy {

namespace {

// SHA256() looks the algorithm up by name on every call in OpenSSL 3 (a
// fetch with string copies and locks); this hashes every request's key, so
// the algorithm is fetched once and each thread reuses one context.
const EVP_MD* Sha256Algorithm() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) throw std::runtime_error("OpenSSL has no SHA-256");
  return md;
}

struct ContextDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

}  // namespace

std::string Sha256Hex(std::string_view data) {
  thread_local std::unique_ptr<EVP_MD_CTX, ContextDeleter> ctx(
      EVP_MD_CTX_new());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (ctx == nullptr ||
      EVP_DigestInit_ex2(ctx.get(), Sha256Algorithm(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest, &size) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return HexEncode(digest, size);
}

}  // namespace llmproxy
