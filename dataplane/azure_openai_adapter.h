#pragma once

#include "dataplane/provider_adapter.h"

namespace llmproxy::dataplane {

// Azure OpenAI: the deployment is in the path,
// {endpoint}/openai/deployments/{remote_model}/chat/completions
// ?api-version={api_version}, the key goes in the "api-key" header, and the
// body's model field is ignored by Azure, so it is left as the client sent it.
class AzureOpenAiAdapter : public ProviderAdapter {
 public:
  // Used when the connection sets no api_version.
  static constexpr std::string_view kDefaultApiVersion = "2024-06-01";

  absl::StatusOr<UpstreamRequest> BuildRequest(const ConnectionInfo& connection,
                                               std::string_view remote_model,
                                               Operation op) const override;
};

}  // namespace llmproxy::dataplane
