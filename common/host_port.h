#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace llmproxy {

// A listen or connect address split in two.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// Parses "host:port", "[v6]:port" or ":port" (host "0.0.0.0": every
// interface). INVALID_ARGUMENT naming the address otherwise.
absl::StatusOr<HostPort> ParseHostPort(std::string_view address);

// Whether `host` names only this machine: localhost, 127.0.0.0/8 or ::1.
bool IsLoopbackHost(std::string_view host);

}  // namespace llmproxy
