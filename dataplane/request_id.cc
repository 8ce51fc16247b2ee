#include "dataplane/request_id.h"

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

std::string NewRequestId() {
  // 12 bytes from the CSPRNG per id, as before, but drawn 128 ids at a time
  // per thread: one RAND_bytes call (with its fork check, a getpid syscall)
  // per 128 requests instead of one per request.
  constexpr std::size_t kIdBytes = 12;
  constexpr std::size_t kBatch = 128;
  thread_local std::string pool;
  thread_local std::size_t used = 0;
  if (used == pool.size()) {
    pool = RandomHex(kIdBytes * kBatch);
    used = 0;
  }
  std::string id;
  id.reserve(4 + 2 * kIdBytes);
  id.append("req_").append(pool, used, 2 * kIdBytes);
  used += 2 * kIdBytes;
  return id;
}

std::string ClientRequestId(std::string_view client_supplied) {
  return IsSaneRequestId(client_supplied) ? std::string(client_supplied)
                                          : std::string();
}

}  // namespace llmproxy::dataplane
