#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace llmproxy::dataplane {

// Where a connection's provider lives, split once when a snapshot is built so
// the request path never parses URLs.
struct UpstreamEndpoint {
  bool tls = true;
  std::string host;  // without brackets for IPv6 literals
  uint16_t port = 443;
  // Path prefix without a trailing slash, e.g. "/v1" or "" for none.
  std::string base_path;
  // Derived from the above by ParseUpstreamEndpoint, once, rather than per
  // request.
  // "https:host:port": the key of the keep-alive pool.
  std::string pool_key;
  // The Host header value: host, plus ":port" when not the scheme's default.
  std::string host_header;
};

// Parses "http[s]://host[:port][/path]". Query strings and fragments are
// refused because the adapters append paths and queries of their own.
absl::StatusOr<UpstreamEndpoint> ParseUpstreamEndpoint(std::string_view url);

// Percent-encodes `segment` for use as one URL path segment.
std::string EncodePathSegment(std::string_view segment);

}  // namespace llmproxy::dataplane
