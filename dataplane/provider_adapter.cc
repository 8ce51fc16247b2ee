#include "dataplane/provider_adapter.h"

#include "dataplane/ascii.h"
#include "dataplane/azure_openai_adapter.h"
#include "dataplane/config_snapshot.h"
#include "dataplane/openai_adapter.h"

namespace llmproxy::dataplane {

const ProviderAdapter* AdapterForProvider(std::string_view provider) {
  static const OpenAiAdapter* const kOpenAi =
      new OpenAiAdapter("https://api.openai.com/v1");
  static const OpenAiAdapter* const kCompatible = new OpenAiAdapter("");
  static const OpenAiAdapter* const kGemini = new OpenAiAdapter(
      "https://generativelanguage.googleapis.com/v1beta/openai");
  static const AzureOpenAiAdapter* const kAzure = new AzureOpenAiAdapter();
  if (provider == "openai") return kOpenAi;
  if (provider == "openai_compatible") return kCompatible;
  if (provider == "gemini") return kGemini;
  if (provider == "azure_openai") return kAzure;
  return nullptr;
}

std::string_view OperationPath(Operation op) {
  switch (op) {
    case Operation::kChatCompletions:
      return "/chat/completions";
    case Operation::kCompletions:
      return "/completions";
    case Operation::kEmbeddings:
      return "/embeddings";
  }
  return {};
}

void AppendExtraHeaders(const ConnectionInfo& connection, HeaderList& headers) {
  for (const auto& [name, value] : connection.extra_headers) {
    std::string lower = ToLower(name);
    if (lower == "host" || lower == "content-length" ||
        lower == "transfer-encoding" || lower == "connection") {
      continue;
    }
    headers.emplace_back(name, value);
  }
}

}  // namespace llmproxy::dataplane
