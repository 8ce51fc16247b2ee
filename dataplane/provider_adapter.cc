#include "dataplane/provider_adapter.h"

#include "dataplane/ascii.h"
#include "dataplane/azure_openai_adapter.h"
#include "dataplane/config_snapshot.h"
#include "dataplane/openai_adapter.h"

namespace llmproxy::dataplane {

using std::string_view_literals::operator""sv;

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

absl::StatusOr<UpstreamRequest> PrepareUpstreamRequest(
    const ConnectionInfo& connection, std::string_view remote_model,
    Operation op) {
  absl::StatusOr<UpstreamRequest> request =
      connection.adapter->BuildRequest(connection, remote_model, op);
  if (!request.ok()) return request;
  // What http::request::set + keep_alive(true) produced: a header of
  // `headers` overrides a default one of the same name, and a later one an
  // earlier one.
  const HeaderList& extra = request->headers;
  auto overridden = [&](std::string_view name, std::size_t from) {
    for (std::size_t i = from; i < extra.size(); ++i) {
      if (EqualsIgnoreCase(extra[i].first, name)) return true;
    }
    return false;
  };
  std::string& head = request->head;
  head.append("POST "sv).append(request->target).append(" HTTP/1.1\r\n"sv);
  auto field = [&head](std::string_view name, std::string_view value) {
    head.append(name).append(": "sv).append(value).append("\r\n"sv);
  };
  if (!overridden("Host", 0)) field("Host", request->endpoint->host_header);
  if (!overridden("User-Agent", 0)) field("User-Agent", "llm-proxy");
  if (!overridden("Content-Type", 0)) field("Content-Type", "application/json");
  if (!overridden("Accept", 0)) {
    field("Accept", "application/json, text/event-stream");
  }
  for (std::size_t i = 0; i < extra.size(); ++i) {
    const auto& [name, value] = extra[i];
    if (EqualsIgnoreCase(name, "Content-Length") ||
        EqualsIgnoreCase(name, "Transfer-Encoding") ||
        EqualsIgnoreCase(name, "Connection")) {
      continue;
    }
    if (overridden(name, i + 1)) continue;
    field(name, value);
  }
  return request;
}

}  // namespace llmproxy::dataplane
