#include "common/secret_mask.h"

namespace llmproxy {

std::string MaskSecret(std::string_view secret) {
  constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026 "…"
  if (secret.size() <= 8) return std::string(kEllipsis);
  std::string out(secret.substr(0, 3));
  out += kEllipsis;
  out += secret.substr(secret.size() - 4);
  return out;
}

}  // namespace llmproxy
