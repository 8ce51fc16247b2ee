#include "dataplane/upstream_endpoint.h"

#include <charconv>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "boost/url/parse.hpp"
#include "boost/url/url_view.hpp"
#include "dataplane/ascii.h"

namespace llmproxy::dataplane {

absl::StatusOr<UpstreamEndpoint> ParseUpstreamEndpoint(std::string_view url) {
  boost::system::result<boost::urls::url_view> parsed =
      boost::urls::parse_absolute_uri(url);
  if (!parsed) {
    return absl::InvalidArgumentError("endpoint is not an absolute URL");
  }
  const boost::urls::url_view& u = *parsed;
  UpstreamEndpoint ep;
  if (u.scheme_id() == boost::urls::scheme::https) {
    ep.tls = true;
    ep.port = 443;
  } else if (u.scheme_id() == boost::urls::scheme::http) {
    ep.tls = false;
    ep.port = 80;
  } else {
    return absl::InvalidArgumentError(
        "endpoint must start with http:// or https://");
  }
  if (u.has_query() || u.has_fragment()) {
    return absl::InvalidArgumentError(
        "endpoint must not have a query or fragment");
  }
  if (u.has_userinfo()) {
    return absl::InvalidArgumentError("endpoint must not carry credentials");
  }
  // host_address() is the host without the brackets of an IPv6 literal.
  std::string host = u.host_address();
  if (host.empty()) return absl::InvalidArgumentError("endpoint has no host");
  if (u.has_port()) {
    std::string_view port = u.port();
    unsigned value = 0;
    auto [ptr, ec] =
        std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() ||
        value == 0 || value > 65535) {
      return absl::InvalidArgumentError("endpoint has an invalid port");
    }
    ep.port = static_cast<uint16_t>(value);
  }
  ep.host = ToLower(host);
  std::string_view path = u.encoded_path();
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  ep.base_path = std::string(path);
  ep.pool_key = std::string(ep.tls ? "https:" : "http:") + ep.host + ":" +
                std::to_string(ep.port);
  ep.host_header =
      ep.host.find(':') != std::string::npos ? "[" + ep.host + "]" : ep.host;
  if (ep.port != (ep.tls ? 443 : 80)) {
    ep.host_header += ":" + std::to_string(ep.port);
  }
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
