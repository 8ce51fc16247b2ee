#include "dataplane/request_id.h"

#include <chrono>
#include <cstdint>

#include "common/crypto/hex.h"
#include "common/crypto/random.h"

namespace llmproxy::dataplane {

bool IsSaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
              c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string NewRequestId(std::chrono::system_clock::time_point now) {
  // "req_", 12 hex digits of the Unix time in milliseconds, then 10 bytes
  // (80 bits) from the CSPRNG. Time first, as in UUIDv7, so ids sort by
  // time: the control plane's unique index on request_id then grows at its
  // end instead of taking each insert on a random page (random ids cost it
  // a page write per record). 80 random bits keep ids made in the same
  // millisecond anywhere in a fleet from colliding.
  constexpr std::size_t kRandomBytes = 10;
  constexpr std::size_t kTimeDigits = 12;
  // The random part is drawn 128 ids at a time per thread: one RAND_bytes
  // call (with its fork check, a getpid syscall) per 128 requests.
  constexpr std::size_t kBatch = 128;
  thread_local std::string pool;
  thread_local std::size_t used = 0;
  if (used == pool.size()) {
    pool = RandomHex(kRandomBytes * kBatch);
    used = 0;
  }
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                          now.time_since_epoch())
                          .count();
  // The low 48 bits, big-endian, so the hex sorts as the time does.
  unsigned char time_bytes[kTimeDigits / 2];
  for (std::size_t i = 0; i < sizeof time_bytes; ++i) {
    time_bytes[i] = static_cast<unsigned char>(
        static_cast<uint64_t>(millis) >> (8 * (sizeof time_bytes - 1 - i)));
  }
  std::string id;
  id.reserve(4 + kTimeDigits + 2 * kRandomBytes);
  id.append("req_")
      .append(HexEncode(time_bytes, sizeof time_bytes))
      .append(pool, used, 2 * kRandomBytes);
  used += 2 * kRandomBytes;
  return id;
}

std::string ClientRequestId(std::string_view client_supplied) {
  return IsSaneRequestId(client_supplied) ? std::string(client_supplied)
                                          : std::string();
}

}  // namespace llmproxy::dataplane
