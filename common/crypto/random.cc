#include "common/crypto/random.h"

#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

#include "common/crypto/hex.h"

namespace llmproxy {

void RandomBytes(unsigned char* out, std::size_t size) {
  if (RAND_bytes(out, static_cast<int>(size)) != 1) {
    // Without randomness no key or nonce is safe to hand out.
    throw std::runtime_error("RAND_bytes failed");
  }
}

std::string RandomHex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  RandomBytes(buf.data(), buf.size());
  return HexEncode(buf.data(), buf.size());
}

std::string RandomAlphanumeric(std::size_t length) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static constexpr unsigned kSize = sizeof(kAlphabet) - 1;  // 62
  std::string out;
  out.reserve(length);
  unsigned char byte;
  while (out.size() < length) {
    RandomBytes(&byte, 1);
    // Rejection sampling keeps the distribution uniform: 248 = 4 * 62.
    if (byte < 4 * kSize) out.push_back(kAlphabet[byte % kSize]);
  }
  return out;
}

}  // namespace llmproxy
