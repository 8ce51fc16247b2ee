#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "dataplane/request_body.h"
#include "dataplane/upstream_endpoint.h"

namespace llmproxy::dataplane {

struct ConnectionInfo;

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Everything needed to send one request to a provider, apart from the body.
struct UpstreamRequest {
  const UpstreamEndpoint* endpoint = nullptr;  // owned by the snapshot
  // Path and query, e.g. "/v1/chat/completions".
  std::string target;
  // Authentication and the connection's extra headers. The default ones
  // (Host, User-Agent, Content-Type, Accept) join them in `head`, and
  // Content-Length is added per request (SerializeRequestHead).
  HeaderList headers;
  // Whether the body's "model" must be rewritten to the remote model name.
  bool rewrite_model = true;
  // The request line and the header fields, each ending in CRLF, that every
  // request sends before its Content-Length (PrepareUpstreamRequest).
  std::string head;
};

// How llm-proxy talks to one kind of provider: URL layout and credentials.
// One instance per provider kind, stateless and shared by every thread.
class ProviderAdapter {
 public:
  virtual ~ProviderAdapter() = default;

  // Builds the upstream request for `op` on `connection` for the provider's
  // model `remote_model`. UNIMPLEMENTED when the provider has no such API.
  virtual absl::StatusOr<UpstreamRequest> BuildRequest(
      const ConnectionInfo& connection, std::string_view remote_model,
      Operation op) const = 0;

  // The endpoint used when a connection leaves it empty ("" if required).
  virtual std::string_view DefaultEndpoint() const { return {}; }
};

// The adapter for a Connection.provider value, or nullptr for providers this
// data plane cannot call (their deployments count as unusable).
const ProviderAdapter* AdapterForProvider(std::string_view provider);

// The path OpenAI's API gives `op` below its base URL, e.g.
// "/chat/completions"; Azure uses the same below a deployment.
std::string_view OperationPath(Operation op);

// Appends the connection's extra headers to `headers`, skipping ones the
// proxy must control itself (Host, Content-Length, Transfer-Encoding,
// Connection).
void AppendExtraHeaders(const ConnectionInfo& connection, HeaderList& headers);

// The connection's adapter's BuildRequest, with `head` written: "POST
// <target> HTTP/1.1", then Host, User-Agent, Content-Type and Accept (each
// replaced by a header of the same name in `headers`) and `headers` (the last
// of several with one name; Content-Length, Transfer-Encoding and Connection
// left out: framing is the proxy's, and connections stay open). Built once
// per deployment and operation when a config snapshot is (see Deployment):
// a request adds only its Content-Length.
absl::StatusOr<UpstreamRequest> PrepareUpstreamRequest(
    const ConnectionInfo& connection, std::string_view remote_model,
    Operation op);

}  // namespace llmproxy::dataplane
