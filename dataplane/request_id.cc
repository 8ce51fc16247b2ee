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

std::string NewRequestId() { return "req_" + RandomHex(12); }

std::string ClientRequestId(std::string_view client_supplied) {
  return IsSaneRequestId(client_supplied) ? std::string(client_supplied)
                                          : std::string();
}

}  // namespace llmproxy::dataplane
