#include "dataplane/azure_openai_adapter.h"

#include "dataplane/config_snapshot.h"

namespace llmproxy::dataplane {

absl::StatusOr<UpstreamRequest> AzureOpenAiAdapter::BuildRequest(
    const ConnectionInfo& connection, std::string_view remote_model,
    Operation op) const {
  UpstreamRequest req;
  req.endpoint = &connection.endpoint;
  req.target = connection.endpoint.base_path + "/openai/deployments/" +
               EncodePathSegment(remote_model);
  req.target += OperationPath(op);
  req.target += "?api-version=";
  req.target +=
      EncodePathSegment(connection.api_version.empty()
                            ? kDefaultApiVersion
                            : std::string_view(connection.api_version));
  if (!connection.api_key.empty()) {
    req.headers.emplace_back("api-key", connection.api_key);
  }
  AppendExtraHeaders(connection, req.headers);
  req.rewrite_model = false;
  return req;
}

}  // namespace llmproxy::dataplane
