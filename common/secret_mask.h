#pragma once

#include <string>
#include <string_view>

namespace llmproxy {

// A secret shortened for display and logs: its leading "xx-" style prefix (up
// to the first 3 characters) and last 4 characters, e.g. "sk-…abcd". Secrets of
// 8 characters or fewer become "…" alone, so nothing of them shows.
std::string MaskSecret(std::string_view secret);

}  // namespace llmproxy
