#pragma once

#include <string>
#include <string_view>

namespace llmproxy {

// Lower-case hex SHA-256 of `data`. Virtual keys are stored and looked up by
// it.
std::string Sha256Hex(std::string_view data);

}  // namespace llmproxy
