#include "common/crypto/random.h"

#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace llmproxy {
namespace {

void FillRandom(unsigned char* out, std::size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1) {
    // Without randomness no key or nonce is safe to hand out.
    throw std::runtime_error("RAND_bytes failed");
  }
}

}  // namespace

std::string RandomHex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  FillRandom(buf.data(), buf.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * bytes, '\0');
  for (std::size_t i = 0; i < bytes; ++i) {
    out[2 * i] = kHex[buf[i] >> 4];
    out[2 * i + 1] = kHex[buf[i] & 0xf];
  }
  return out;
}

std::string RandomAlphanumeric(std::size_t length) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static constexpr unsigned kSize = sizeof(kAlphabet) - 1;  // 62
  std::string out;
  out.reserve(length);
  unsigned char byte;
  while (out.size() < length) {
    FillRandom(&byte, 1);
    // Rejection sampling keeps the distribution uniform: 248 = 4 * 62.
    if (byte < 4 * kSize) out.push_back(kAlphabet[byte % kSize]);
  }
  return out;
}

}  // namespace llmproxy
