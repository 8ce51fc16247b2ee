#include "dataplane/upstream_endpoint.h"

#include <charconv>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "dataplane/ascii.h"

namespace llmproxy::dataplane {

std::string UpstreamEndpoint::PoolKey() const {
  return std::string(tls ? "https:" : "http:") + host + ":" +
         std::to_string(port);
}

std::string UpstreamEndpoint::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

absl::StatusOr<UpstreamEndpoint> ParseUpstreamEndpoint(std::string_view url) {
  UpstreamEndpoint ep;
  std::string lower = ToLower(url.substr(0, 8));
  if (absl::StartsWith(lower, "https://")) {
    ep.tls = true;
    ep.port = 443;
    url.remove_prefix(8);
  } else if (absl::StartsWith(lower, "http://")) {
    ep.tls = false;
    ep.port = 80;
    url.remove_prefix(7);
  } else {
    return absl::InvalidArgumentError(
        "endpoint must start with http:// or https://");
  }
  if (url.find_first_of("?#") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        "endpoint must not have a query or fragment");
  }
  std::size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  std::string_view path =
      slash == std::string_view::npos ? std::string_view() : url.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError("endpoint must not carry credentials");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError("endpoint has a malformed IPv6 host");
    }
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError("endpoint has a malformed host");
      }
      port = rest.substr(1);
    }
  } else if (std::size_t colon = authority.rfind(':');
             colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return absl::InvalidArgumentError("endpoint has no host");
  if (!port.empty()) {
    unsigned value = 0;
    auto [ptr, ec] =
        std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return absl::InvalidArgumentError("endpoint has an invalid port");
    }
    ep.port = static_cast<uint16_t>(value);
  }
  ep.host = ToLower(host);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  ep.base_path = std::string(path);
  return ep;
}

std::string EncodePathSegment(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : segment) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace llmproxy::dataplane
