#include "common/crypto/sha256.h"

#include <openssl/sha.h>

#include "common/crypto/hex.h"

namespace llmproxy {

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest);
  return HexEncode(digest, SHA256_DIGEST_LENGTH);
}

}  // namespace llmproxy
