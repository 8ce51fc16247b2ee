#pragma once

#include "dataplane/provider_adapter.h"

namespace llmproxy::dataplane {

// OpenAI and everything shaped like it (openai_compatible servers, Gemini's
// OpenAI-compatible endpoint): {endpoint}/chat/completions etc. with
// "Authorization: Bearer <key>", and the model named in the body.
class OpenAiAdapter : public ProviderAdapter {
 public:
  explicit OpenAiAdapter(std::string_view default_endpoint)
      : default_endpoint_(default_endpoint) {}

  absl::StatusOr<UpstreamRequest> BuildRequest(const ConnectionInfo& connection,
                                               std::string_view remote_model,
                                               Operation op) const override;

  std::string_view DefaultEndpoint() const override {
    return default_endpoint_;
  }

 private:
  std::string_view default_endpoint_;
};

}  // namespace llmproxy::dataplane
