#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "dataplane/openai_error.h"

namespace llmproxy::dataplane {

// Which client API a request body belongs to; decides the fields required.
enum class Operation { kChatCompletions, kCompletions, kEmbeddings };
inline constexpr std::size_t kOperationCount = 3;

// A byte range [begin, end) of a request body.
struct ByteRange {
  std::size_t begin = 0;
  std::size_t end = 0;
};

// What the proxy needs to know of a request body, read without building a
// document tree: the hot path only looks at a handful of top-level fields and
// forwards everything else byte for byte.
struct RequestFacts {
  std::string model;
  bool stream = false;
  std::optional<int64_t> max_tokens;
  bool has_stream_options = false;
  bool stream_options_include_usage = false;
  // Bytes of the JSON value of "messages" (chat), "prompt" (completions) or
  // "input" (embeddings): the basis of the prompt token estimate.
  std::size_t prompt_bytes = 0;
  // Where the top-level "model" string lies in the body, quotes included,
  // when it is there once and without escapes (so SpliceModel need not look
  // for it again).
  std::optional<ByteRange> model_value;
};

// Token usage as a provider reports it.
struct TokenUsage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  // usage.prompt_tokens_details.cached_tokens, when present.
  int64_t cached_tokens = 0;
  int64_t total() const { return prompt_tokens + completion_tokens; }
};

// The top-level "usage" object of a JSON document (a non-streamed response
// body, or the data of one SSE chunk), read without parsing anything else;
// nullopt when absent, null or malformed. Reads prompt_tokens,
// completion_tokens (input_tokens/output_tokens as a fallback) and
// prompt_tokens_details.cached_tokens.
std::optional<TokenUsage> ExtractUsage(std::string_view json);

// Validates `body` as JSON (one pass, no DOM) and extracts RequestFacts.
// Errors: malformed JSON, body not an object, missing or non-string "model",
// a missing "messages" (chat), "prompt" (completions) or "input" (embeddings),
// a non-boolean "stream".
absl::StatusOr<RequestFacts> InspectRequestBody(std::string_view body,
                                                Operation op, ApiError* error);

// Returns `body` with the value of every top-level "model" member replaced by
// the JSON string `new_model`; nothing else changes (whitespace, key order,
// nested "model" keys, escapes elsewhere). `body` must be valid JSON whose
// top level is an object (InspectRequestBody checked it). `model_value`, when
// given, is RequestFacts::model_value of this very body: the one value to
// replace, found without reading the body again.
std::string SpliceModel(std::string_view body, std::string_view new_model,
                        std::optional<ByteRange> model_value = std::nullopt);

// For a streamed request whose client did not ask for usage: returns `body`
// with stream_options.include_usage set to true (spliced in, the rest
// unchanged), so the provider reports token usage in a final chunk the proxy
// then strips. An explicit "include_usage": false becomes true. nullopt when
// it cannot be done safely (stream_options is not an object, or
// include_usage is there with another value).
std::optional<std::string> InjectIncludeUsage(std::string_view body);

// True when an SSE data payload is the usage-only chunk a provider sends for
// include_usage (a "usage" object and no choices).
bool IsUsageOnlyChunk(std::string_view data);

// For a stream whose include_usage the proxy added: OpenAI-style providers
// then also put "usage":null in every chunk, which they would not have sent
// otherwise. Returns `data` without that top-level member (nothing else
// changes), or nullopt when it has none.
std::optional<std::string> StripNullUsage(std::string_view data);

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

}  // namespace llmproxy::dataplane
