#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace llmproxy::dataplane {

// A fresh id for one request: the x-request-id response header, the log lines
// and the usage record's idempotency key. Never taken from the client: a
// client reusing one id would merge the usage records of different requests
// and so skip billing for all but one. `now` is when the request arrived.
std::string NewRequestId(std::chrono::system_clock::time_point now =
                             std::chrono::system_clock::now());

// The client's own correlation id (from x-client-request-id, as OpenAI's API
// takes it, or x-request-id) when it is sane (1-128 characters of
// [A-Za-z0-9._:-]), else empty: it ends up in logs and headers verbatim.
// Echoed as x-client-request-id.
std::string ClientRequestId(std::string_view client_supplied);

// True when `id` may be echoed back as a request id.
bool IsSaneRequestId(std::string_view id);

}  // namespace llmproxy::dataplane
