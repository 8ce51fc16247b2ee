#pragma once

#include <cstddef>
#include <string>

namespace llmproxy {

// Lower-case hex of `size` bytes (2 * size characters).
inline std::string HexEncode(const unsigned char* data, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0xf];
  }
  return out;
}

}  // namespace llmproxy
