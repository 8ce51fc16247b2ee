#pragma once

#include <cstddef>
#include <string>

namespace llmproxy {

// Fills `out` with `size` bytes from the OpenSSL CSPRNG.
void RandomBytes(unsigned char* out, std::size_t size);

// `bytes` bytes from the OpenSSL CSPRNG, hex encoded (2 * bytes characters).
std::string RandomHex(std::size_t bytes);

// `length` characters drawn uniformly from [A-Za-z0-9] with the CSPRNG; used
// for generated virtual keys.
std::string RandomAlphanumeric(std::size_t length);

}  // namespace llmproxy
