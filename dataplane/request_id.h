#pragma once

#include <string>
#include <string_view>

namespace llmproxy::dataplane {

// The id a request is known by in logs, usage records and the x-request-id
// response header. A client-chosen id is kept when it is sane (1-128
// characters of [A-Za-z0-9._:-]) so callers can correlate; anything else is
// replaced, because it would end up in logs and headers verbatim.
std::string RequestIdFor(std::string_view client_supplied);

// True when `id` may be echoed back as a request id.
bool IsSaneRequestId(std::string_view id);

}  // namespace llmproxy::dataplane
