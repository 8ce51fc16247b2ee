#include "dataplane/openai_adapter.h"

#include "dataplane/config_snapshot.h"

namespace llmproxy::dataplane {

absl::StatusOr<UpstreamRequest> OpenAiAdapter::BuildRequest(
    const ConnectionInfo& connection, std::string_view /*remote_model*/,
    Operation op) const {
  UpstreamRequest req;
  req.endpoint = &connection.endpoint;
  req.target = connection.endpoint.base_path;
  req.target += OperationPath(op);
  if (!connection.api_key.empty()) {
    req.headers.emplace_back("Authorization", "Bearer " + connection.api_key);
  }
  AppendExtraHeaders(connection, req.headers);
  req.rewrite_model = true;
  return req;
}

}  // namespace llmproxy::dataplane
