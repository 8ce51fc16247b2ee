#include "common/host_port.h"

#include <charconv>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace llmproxy {

absl::StatusOr<HostPort> ParseHostPort(std::string_view address) {
  std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError("address \"" + std::string(address) +
                                      "\" must be host:port");
  }
  std::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string_view port = address.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] =
      std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() ||
      value > 65535) {
    return absl::InvalidArgumentError("address \"" + std::string(address) +
                                      "\" has an invalid port");
  }
  return HostPort{host.empty() ? std::string("0.0.0.0") : std::string(host),
                  static_cast<uint16_t>(value)};
}

bool IsLoopbackHost(std::string_view host) {
  std::string lower = absl::AsciiStrToLower(std::string(host));
  return lower == "localhost" || lower == "::1" ||
         absl::StartsWith(lower, "127.");
}

}  // namespace llmproxy
