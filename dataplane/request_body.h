#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "dataplane/openai_error.h"

namespace llmproxy::dataplane {

// Which client API a request body belongs to; decides the fields required.
enum class Operation { kChatCompletions, kCompletions, kEmbeddings };

// What the proxy needs to know of a request body, read without building a
// document tree: the hot path only looks at a handful of top-level fields and
// forwards everything else byte for byte.
struct RequestFacts {
  std::string model;
  bool stream = false;
  std::optional<int64_t> max_tokens;
  bool has_stream_options = false;
  bool stream_options_include_usage = false;
};

// Validates `body` as JSON (one pass, no DOM) and extracts RequestFacts.
// Errors: malformed JSON, body not an object, missing or non-string "model",
// a missing "messages" (chat), "prompt" (completions) or "input" (embeddings),
// a non-boolean "stream".
absl::StatusOr<RequestFacts> InspectRequestBody(std::string_view body,
                                                Operation op, ApiError* error);

// Returns `body` with the value of every top-level "model" member replaced by
// the JSON string `new_model`; nothing else changes (whitespace, key order,
// nested "model" keys, escapes elsewhere). `body` must be valid JSON whose
// top level is an object (InspectRequestBody checked it).
std::string SpliceModel(std::string_view body, std::string_view new_model);

// For a streamed request whose client did not ask for usage: returns `body`
// with stream_options.include_usage set to true (spliced in, the rest
// unchanged), so the provider reports token usage in a final chunk the proxy
// then strips. nullopt when it cannot be done safely (stream_options is not
// an object, or already has include_usage).
std::optional<std::string> InjectIncludeUsage(std::string_view body);

// True when an SSE data payload is the usage-only chunk a provider sends for
// include_usage (a "usage" object and no choices).
bool IsUsageOnlyChunk(std::string_view data);

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

}  // namespace llmproxy::dataplane
