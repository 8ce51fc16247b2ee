#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dataplane/config_snapshot.h"
#include "dataplane/deployment_selector.h"
#include "dataplane/limits/admission.h"
#include "dataplane/openai_error.h"
#include "dataplane/provider_adapter.h"
#include "dataplane/request_limits.h"
#include "dataplane/request_router.h"
#include "dataplane/virtual_key_auth.h"

namespace llmproxy::dataplane {

// A request as the decision logic sees it: no sockets, no Beast types, so
// every answer the proxy gives on its own can be unit tested.
struct ClientRequest {
  std::string_view method;
  std::string_view target;
  std::string_view api_key;  // from ExtractApiKey
  std::string_view body;
  // The connection's key hasher (optional: without one the key is hashed
  // afresh).
  ApiKeyHasher* key_hasher = nullptr;
};

// An answer produced without calling a provider.
struct DirectResponse {
  int status = 200;
  std::string body;  // JSON
  HeaderList headers;
};

// One deployment to try, with its request fully prepared.
struct ProxyAttempt {
  const Deployment* deployment = nullptr;
  // The assignment that grants the deployment (nullptr for the master key).
  const AssignmentInfo* assignment = nullptr;
  const UpstreamRequest* request = nullptr;  // the deployment's
  std::string body;  // with "model" spliced when the adapter wants it
};

// What to send upstream, in order: the second attempt is the fallback used
// on a connect failure or a 5xx from the first.
struct ProxyPlan {
  // Keeps every pointer in `attempts` valid for the request's lifetime.
  ConfigSnapshotPtr snapshot;
  std::vector<ProxyAttempt> attempts;
  std::string alias;
  bool stream = false;
  // The proxy added stream_options.include_usage: drop the usage-only chunk
  // before it reaches the client.
  bool strip_usage_chunk = false;
  Operation operation = Operation::kChatCompletions;
  // What was reserved from the token buckets (and, priced at the first
  // attempt's deployment, from the budgets).
  TokenEstimate estimate;
  // Holds the request's place in the key's and the first attempt's
  // assignment's limits (concurrency slot, token and budget reservation)
  // until it is settled and destroyed; empty when neither has limits. Its
  // scopes live in `snapshot` (declared first, so destroyed last).
  std::optional<Admission> admission;
  // x-ratelimit-* headers for the response (empty when no rate limit).
  HeaderList rate_limit_headers;
};

// What the handler learned about a request, whatever it answered: the usage
// record and the metrics are made from it.
struct RequestInfo {
  std::string virtual_key_id;
  std::string virtual_key_name;
  std::string model;
  std::string assignment_id;
  bool stream = false;
  // Set when a limit refused the request.
  std::optional<LimitKind> refused;
};

using HandlerResult = std::variant<DirectResponse, ProxyPlan>;

struct HandlerOptions {
  // Sha256Hex of the master key; empty when none is configured.
  std::string master_key_sha256;
  // Deployments tried per request (first choice + fallbacks).
  std::size_t max_attempts = 2;
  // Completion tokens reserved for a request without max_tokens.
  int64_t default_max_tokens = 1024;
};

// Routes, authenticates, validates and resolves one request against
// `snapshot` (nullptr when no config has been loaded yet), and admits it
// against the limits of its virtual key and of the assignment granting the
// first deployment to try (both apply; a refusal is a 429 DirectResponse).
// `info` (optional) receives what was learned about the request.
HandlerResult HandleClientRequest(const ClientRequest& request,
                                  const ConfigSnapshotPtr& snapshot,
                                  const HandlerOptions& options,
                                  std::chrono::system_clock::time_point now,
                                  const RandomBelow& random,
                                  RequestInfo* info = nullptr);

// The DirectResponse for an ApiError.
DirectResponse ErrorResponse(const ApiError& error);

}  // namespace llmproxy::dataplane
