#include "dataplane/request_body.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "boost/json/basic_parser_impl.hpp"
#include "boost/json/parse.hpp"
#include "boost/json/serialize.hpp"
#include "boost/json/string.hpp"

namespace llmproxy::dataplane {
namespace {

namespace json = boost::json;

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::size_t SkipSpace(std::string_view text, std::size_t pos) {
  while (pos < text.size() && IsJsonSpace(text[pos])) ++pos;
  return pos;
}

// End of text[0, end) without its trailing whitespace.
std::size_t SkipSpaceBack(std::string_view text, std::size_t end) {
  while (end > 0 && IsJsonSpace(text[end - 1])) --end;
  return end;
}

// Top-level members the proxy cares about.
enum class Member {
  kOther,
  kModel,
  kStream,
  kMaxTokens,
  kStreamOptions,
  kMessages,
  kPrompt,
  kInput,
};

// The member whose value is an operation's prompt (the basis of the prompt
// token estimate).
struct PromptMember {
  Member member;
  std::string_view key;
};

PromptMember PromptMemberOf(Operation op) {
  switch (op) {
    case Operation::kChatCompletions:
      return {Member::kMessages, "messages"};
    case Operation::kCompletions:
      return {Member::kPrompt, "prompt"};
    case Operation::kEmbeddings:
      break;
  }
  return {Member::kInput, "input"};
}

Member ClassifyKey(std::string_view key) {
  if (key == "model") return Member::kModel;
  if (key == "stream") return Member::kStream;
  if (key == "max_tokens") return Member::kMaxTokens;
  if (key == "max_completion_tokens") return Member::kMaxTokens;
  if (key == "stream_options") return Member::kStreamOptions;
  if (key == "messages") return Member::kMessages;
  if (key == "prompt") return Member::kPrompt;
  if (key == "input") return Member::kInput;
  return Member::kOther;
}

// What every SAX handler for boost::json::basic_parser here shares: the
// nesting depth (each handler's *_begin callbacks count it up), whether the
// document is an object, no size limits of its own (the body limit bounds the
// input) and the callbacks it ignores.
struct SaxHandlerBase {
  int depth = 0;
  bool top_is_object = false;

  bool on_object_end(std::size_t, json::error_code&) {
    --depth;
    return true;
  }
  bool on_array_end(std::size_t, json::error_code&) {
    --depth;
    return true;
  }

  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

// SAX handler for boost::json::basic_parser: tracks nesting depth and records
// only the values of interesting members at depth 1 (and include_usage at
// depth 2 inside stream_options). Nothing is allocated for other values.
//
// Boost.JSON hands out a key or string without escapes as a view into the
// body itself; from those views the handler also locates the prompt member's
// value and the "model" string, so neither needs a second pass over the body.
struct FactsHandler : SaxHandlerBase {
  static constexpr std::size_t npos = std::string_view::npos;

  FactsHandler(std::string_view text, Member prompt)
      : body(text), prompt_member(prompt) {}

  const std::string_view body;
  const Member prompt_member;  // kMessages, kPrompt or kInput

  Member current = Member::kOther;  // member whose value comes next at depth 1
  bool in_include_usage = false;  // next value is stream_options.include_usage
  std::string key_buffer;
  std::string model_buffer;

  // The last prompt member's value: [prompt_begin, prompt_end) once the key
  // after it (or the closing brace) is seen. prompt_lost: a key around it was
  // not handed out in place, so the caller measures it the slow way.
  std::size_t prompt_begin = npos;
  std::size_t prompt_end = npos;
  bool prompt_open = false;
  bool prompt_lost = false;
  int model_values = 0;  // top-level "model" values seen
  std::optional<ByteRange> model_value;

  RequestFacts facts;
  bool has_model = false;
  bool model_not_string = false;
  bool stream_not_bool = false;
  bool has_messages = false;
  bool has_prompt = false;
  bool has_input = false;

  // Called for every value that starts at depth 1 (after its key).
  void SeeTopValue(bool is_string, bool is_bool) {
    switch (current) {
      case Member::kModel:
        has_model = true;
        ++model_values;
        model_not_string = !is_string;
        break;
      case Member::kStream:
        stream_not_bool = !is_bool;
        break;
      case Member::kMessages:
        has_messages = true;
        break;
      case Member::kPrompt:
        has_prompt = true;
        break;
      case Member::kInput:
        has_input = true;
        break;
      default:
        break;
    }
  }

  // Index of `s` in the body when it is a view into it (a string without
  // escapes, in one piece: `total` is the whole string's size), else npos.
  // Compared as integers: an escaped string is decoded into a buffer of the
  // parser's.
  std::size_t InPlace(json::string_view s, std::size_t total) const {
    if (total != s.size()) return npos;
    const auto p = reinterpret_cast<std::uintptr_t>(s.data());
    const auto first = reinterpret_cast<std::uintptr_t>(body.data());
    if (p <= first || p + s.size() >= first + body.size()) return npos;
    return p - first;
  }

  // A key at depth 1, at body index `at` (npos: not in place), `size` bytes.
  void SeeTopKey(std::size_t at, std::size_t size) {
    if (prompt_open) {
      // The member after the prompt begins: the prompt's value ends before
      // the comma in front of this key's opening quote.
      prompt_open = false;
      if (at == npos) {
        prompt_lost = true;
      } else {
        prompt_end = SkipSpaceBack(body, SkipSpaceBack(body, at - 1) - 1);
      }
    }
    if (current != prompt_member) return;
    prompt_lost = at == npos;  // the last prompt member is the one measured
    if (!prompt_lost) {
      const std::size_t colon = SkipSpace(body, at + size + 1);
      prompt_begin = SkipSpace(body, colon + 1);
      prompt_open = true;
    }
  }

  // After a complete parse: the prompt's value, when it was the last member,
  // ends before the closing brace.
  void SeeEnd() {
    if (prompt_open) {
      prompt_end = SkipSpaceBack(body, SkipSpaceBack(body, body.size()) - 1);
      prompt_open = false;
    }
  }

  bool OnScalar(bool is_string, bool is_bool) {
    if (depth == 1) SeeTopValue(is_string, is_bool);
    return true;
  }

  bool on_object_begin(json::error_code&) {
    if (depth == 0) top_is_object = true;
    if (depth == 1) {
      SeeTopValue(false, false);
      if (current == Member::kStreamOptions) facts.has_stream_options = true;
    }
    ++depth;
    return true;
  }
  bool on_array_begin(json::error_code&) {
    if (depth == 1) SeeTopValue(false, false);
    ++depth;
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    if (depth <= 2) key_buffer.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t total, json::error_code&) {
    if (depth <= 2) {
      const std::size_t at = InPlace(s, total);
      // A key in one piece is read where it is, one in parts from
      // key_buffer.
      std::string_view key(s.data(), s.size());
      if (total != s.size()) {
        key_buffer.append(s.data(), s.size());
        key = key_buffer;
      }
      if (depth == 1) {
        current = ClassifyKey(key);
        SeeTopKey(at, s.size());
      } else {
        in_include_usage =
            current == Member::kStreamOptions && key == "include_usage";
      }
      key_buffer.clear();
    }
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    if (depth == 1 && current == Member::kModel) {
      model_buffer.append(s.data(), s.size());
    }
    return true;
  }
  bool on_string(json::string_view s, std::size_t total, json::error_code&) {
    if (depth == 1 && current == Member::kModel) {
      const std::size_t at = InPlace(s, total);
      model_value =
          at == npos
              ? std::nullopt
              : std::optional<ByteRange>(ByteRange{at - 1, at + s.size() + 1});
      model_buffer.append(s.data(), s.size());
      facts.model = std::move(model_buffer);
      model_buffer.clear();
    }
    return OnScalar(true, false);
  }
  bool on_int64(int64_t i, json::string_view, json::error_code&) {
    if (depth == 1 && current == Member::kMaxTokens) facts.max_tokens = i;
    return OnScalar(false, false);
  }
  bool on_uint64(uint64_t u, json::string_view, json::error_code&) {
    if (depth == 1 && current == Member::kMaxTokens) {
      facts.max_tokens = static_cast<int64_t>(u);
    }
    return OnScalar(false, false);
  }
  bool on_double(double, json::string_view, json::error_code&) {
    return OnScalar(false, false);
  }
  bool on_bool(bool b, json::error_code&) {
    if (depth == 1 && current == Member::kStream) facts.stream = b;
    if (depth == 2 && in_include_usage) facts.stream_options_include_usage = b;
    return OnScalar(false, true);
  }
  bool on_null(json::error_code&) {
    // "stream": null is what some SDKs send for "not streaming".
    if (depth == 1 && current == Member::kStream) return true;
    return OnScalar(false, false);
  }
};

// SAX handler reading a "usage" object: the token counts at depth 1 and
// prompt_tokens_details.cached_tokens at depth 2. Nothing is allocated (the
// DOM parse it replaced cost 11 allocations per response).
struct UsageHandler : SaxHandlerBase {
  enum class Field { kOther, kPrompt, kCompletion, kInput, kOutput, kDetails };

  Field field = Field::kOther;  // the depth-1 member whose value comes next
  bool in_cached = false;       // next value is details.cached_tokens
  // Keys split by an escape arrive in parts; only ours matter, and they are
  // short, so a part longer than this is never one of them.
  char key[32];
  std::size_t key_size = 0;

  std::optional<int64_t> prompt, completion, input, output;
  int64_t cached = 0;

  bool AppendKey(json::string_view s) {
    if (key_size + s.size() > sizeof key) {
      key_size = sizeof key + 1;  // too long to match anything
      return true;
    }
    std::memcpy(key + key_size, s.data(), s.size());
    key_size += s.size();
    return true;
  }
  void Number(int64_t n) {
    n = std::max<int64_t>(0, n);
    if (depth == 1) {
      switch (field) {
        case Field::kPrompt:
          prompt = n;
          break;
        case Field::kCompletion:
          completion = n;
          break;
        case Field::kInput:
          input = n;
          break;
        case Field::kOutput:
          output = n;
          break;
        default:
          break;
      }
    } else if (depth == 2 && in_cached) {
      cached = n;
    }
  }
  // A member that is present but not a number counts as 0.
  bool NotNumber() {
    Number(0);
    return true;
  }

  bool on_object_begin(json::error_code&) {
    if (depth == 0) top_is_object = true;
    if (depth <= 2) NotNumber();
    ++depth;
    return true;
  }
  bool on_array_begin(json::error_code&) {
    if (depth <= 2) NotNumber();
    ++depth;
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    return depth > 2 || AppendKey(s);
  }
  bool on_key(json::string_view s, std::size_t total, json::error_code&) {
    if (depth > 2) return true;
    // A key in one piece is read where it is; one in parts was gathered in
    // `key` (an overlong one reads as "", which matches nothing).
    std::string_view k(s.data(), s.size());
    if (total != s.size()) {
      AppendKey(s);
      k = key_size <= sizeof key ? std::string_view(key, key_size)
                                 : std::string_view();
    }
    key_size = 0;
    if (depth == 1) {
      field = k == "prompt_tokens"           ? Field::kPrompt
              : k == "completion_tokens"     ? Field::kCompletion
              : k == "input_tokens"          ? Field::kInput
              : k == "output_tokens"         ? Field::kOutput
              : k == "prompt_tokens_details" ? Field::kDetails
                                             : Field::kOther;
    } else {
      in_cached = field == Field::kDetails && k == "cached_tokens";
    }
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) {
    return true;
  }
  bool on_string(json::string_view, std::size_t, json::error_code&) {
    return NotNumber();
  }
  bool on_int64(int64_t i, json::string_view, json::error_code&) {
    Number(i);
    return true;
  }
  bool on_uint64(uint64_t u, json::string_view, json::error_code&) {
    Number(u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
               ? std::numeric_limits<int64_t>::max()
               : static_cast<int64_t>(u));
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    Number(d >= 9.2e18 ? std::numeric_limits<int64_t>::max() : std::llround(d));
    return true;
  }
  bool on_bool(bool, json::error_code&) { return NotNumber(); }
  bool on_null(json::error_code&) { return NotNumber(); }
};

// Index just past the string literal whose opening quote is at `pos` (past
// text.size() when it is not closed). Strings are most of a request body and
// most of a response: memchr finds the candidate quotes, and a quote counts
// as escaped after an odd run of backslashes.
std::size_t SkipString(std::string_view text, std::size_t pos) {
  const std::size_t start = pos + 1;
  std::size_t from = start;
  while (from < text.size()) {
    const void* hit = std::memchr(text.data() + from, '"', text.size() - from);
    if (hit == nullptr) break;
    const std::size_t quote = static_cast<const char*>(hit) - text.data();
    std::size_t run = quote;
    while (run > start && text[run - 1] == '\\') --run;
    if ((quote - run) % 2 == 0) return quote + 1;
    from = quote + 1;
  }
  return text.size() + 1;
}

// Index just past the JSON value starting at `pos` in valid JSON `text`.
std::size_t SkipValue(std::string_view text, std::size_t pos) {
  char c = text[pos];
  if (c == '"') return SkipString(text, pos);
  if (c == '{' || c == '[') {
    int depth = 0;
    while (pos < text.size()) {
      char d = text[pos];
      if (d == '"') {
        pos = SkipString(text, pos);
        continue;
      }
      if (d == '{' || d == '[') ++depth;
      if (d == '}' || d == ']') {
        if (--depth == 0) return pos + 1;
      }
      ++pos;
    }
    return pos;
  }
  // Number, true, false, null.
  while (pos < text.size()) {
    char d = text[pos];
    if (d == ',' || d == '}' || d == ']' || IsJsonSpace(d)) break;
    ++pos;
  }
  return pos;
}

// The decoded text of the JSON string literal text[begin, end).
std::string DecodeKey(std::string_view literal) {
  if (literal.find('\\') == std::string_view::npos) {
    return std::string(literal.substr(1, literal.size() - 2));
  }
  // Rare (an escaped key): let Boost.JSON decode it.
  json::error_code ec;
  json::value v =
      json::parse(json::string_view(literal.data(), literal.size()), ec);
  if (ec || !v.is_string()) return {};
  return std::string(v.get_string());
}

// Whether JSON string literal `literal` (with its quotes) decodes to `key`;
// allocates only for a key with escapes.
bool KeyEquals(std::string_view literal, std::string_view key) {
  if (literal.find('\\') == std::string_view::npos) {
    return literal.size() >= 2 && literal.substr(1, literal.size() - 2) == key;
  }
  return DecodeKey(literal) == key;
}

// Defined below.
std::optional<std::pair<std::size_t, std::size_t>> FindTopLevelMember(
    std::string_view body, std::string_view key);

}  // namespace

absl::StatusOr<RequestFacts> InspectRequestBody(std::string_view body,
                                                Operation op, ApiError* error) {
  auto fail = [&](ApiError e) {
    absl::Status status = absl::InvalidArgumentError(e.message);
    if (error != nullptr) *error = std::move(e);
    return status;
  };
  const PromptMember prompt = PromptMemberOf(op);
  json::basic_parser<FactsHandler> parser(json::parse_options{}, body,
                                          prompt.member);
  json::error_code ec;
  std::size_t consumed = parser.write_some(false, body.data(), body.size(), ec);
  if (!ec && consumed < body.size()) ec = json::error::extra_data;
  if (ec) return fail(InvalidJson(ec.message()));
  FactsHandler& h = parser.handler();
  if (!h.top_is_object) {
    return fail(BadRequest("The request body must be a JSON object."));
  }
  if (!h.has_model) return fail(MissingParameter("model"));
  if (h.model_not_string)
    return fail(InvalidParameterType("model", "a string"));
  if (h.facts.model.empty()) return fail(MissingParameter("model"));
  if (h.stream_not_bool) {
    return fail(InvalidParameterType("stream", "a boolean"));
  }
  switch (op) {
    case Operation::kChatCompletions:
      if (!h.has_messages) return fail(MissingParameter("messages"));
      break;
    case Operation::kCompletions:
      if (!h.has_prompt) return fail(MissingParameter("prompt"));
      break;
    case Operation::kEmbeddings:
      if (!h.has_input) return fail(MissingParameter("input"));
      break;
  }
  h.SeeEnd();
  if (h.prompt_lost) {
    auto span = FindTopLevelMember(body, prompt.key);
    if (span.has_value()) h.facts.prompt_bytes = span->second - span->first;
  } else if (h.prompt_begin != FactsHandler::npos) {
    h.facts.prompt_bytes = h.prompt_end - h.prompt_begin;
  }
  if (h.model_values == 1) h.facts.model_value = h.model_value;
  return std::move(h.facts);
}

std::string JsonQuote(std::string_view text) {
  return json::serialize(
      json::string(json::string_view(text.data(), text.size())));
}

namespace {

// Index of the opening quote of the string literal whose closing quote is at
// `close`, or npos. Inside a string every quote is escaped (an odd run of
// backslashes before it), and the opening one is not: so it is the nearest
// quote before `close` that is not escaped.
std::size_t StringStartBack(std::string_view text, std::size_t close) {
  std::size_t limit = close;
  while (limit > 0) {
    const void* hit = memrchr(text.data(), '"', limit);
    if (hit == nullptr) break;
    const std::size_t quote = static_cast<const char*>(hit) - text.data();
    std::size_t run = quote;
    while (run > 0 && text[run - 1] == '\\') --run;
    if ((quote - run) % 2 == 0) return quote;
    limit = quote;
  }
  return std::string_view::npos;
}

// Start of the JSON value that ends just before `end`, or npos.
std::size_t ValueStartBack(std::string_view text, std::size_t end) {
  if (end == 0) return std::string_view::npos;
  const char last = text[end - 1];
  if (last == '"') return StringStartBack(text, end - 1);
  if (last == '}' || last == ']') {
    int depth = 0;
    for (std::size_t pos = end; pos > 0;) {
      const char c = text[--pos];
      if (c == '"') {
        pos = StringStartBack(text, pos);
        if (pos == std::string_view::npos) break;
      } else if (c == '}' || c == ']') {
        ++depth;
      } else if ((c == '{' || c == '[') && --depth == 0) {
        return pos;
      }
    }
    return std::string_view::npos;
  }
  // Number, true, false, null.
  std::size_t pos = end;
  while (pos > 0) {
    const char c = text[pos - 1];
    if (c == ':' || c == ',' || c == '[' || c == '{' || IsJsonSpace(c)) break;
    --pos;
  }
  return pos == end ? std::string_view::npos : pos;
}

// The byte range [first, second) of the value of top-level member `key` in
// JSON object `body`, if present (the last one when repeated). Members are
// walked from the end, so the last `key` is the first one met and nothing
// before it is read: providers put "usage" at or near the end of an answer.
// Works on unvalidated input: malformed text gives nullopt (or a range the
// caller's parser then rejects), never a range outside `body`.
std::optional<std::pair<std::size_t, std::size_t>> FindTopLevelMember(
    std::string_view body, std::string_view key) {
  constexpr std::size_t npos = std::string_view::npos;
  const std::size_t first = SkipSpace(body, 0);
  if (first >= body.size() || body[first] != '{') return std::nullopt;
  std::size_t end = SkipSpaceBack(body, body.size());
  if (end <= first + 1 || body[end - 1] != '}') return std::nullopt;
  --end;  // the closing brace
  while (true) {
    const std::size_t value_end = SkipSpaceBack(body, end);
    if (value_end <= first + 1) return std::nullopt;  // "{}" or no member
    const std::size_t value_start = ValueStartBack(body, value_end);
    if (value_start == npos || value_start <= first) return std::nullopt;
    std::size_t pos = SkipSpaceBack(body, value_start);
    if (pos == 0 || body[pos - 1] != ':') return std::nullopt;
    pos = SkipSpaceBack(body, pos - 1);
    if (pos == 0 || body[pos - 1] != '"') return std::nullopt;
    const std::size_t key_start = StringStartBack(body, pos - 1);
    if (key_start == npos || key_start <= first) return std::nullopt;
    if (KeyEquals(body.substr(key_start, pos - key_start), key)) {
      return std::make_pair(value_start, value_end);
    }
    pos = SkipSpaceBack(body, key_start);
    if (pos == first + 1) return std::nullopt;  // that was the first member
    if (pos == 0 || body[pos - 1] != ',') return std::nullopt;
    end = pos - 1;
  }
}

}  // namespace

std::optional<std::string> InjectIncludeUsage(std::string_view body) {
  std::size_t open = SkipSpace(body, 0);
  if (open >= body.size() || body[open] != '{') return std::nullopt;
  auto options = FindTopLevelMember(body, "stream_options");
  std::string out(body);
  if (!options.has_value() || body.substr(options->first, 4) == "null") {
    if (options.has_value()) {
      out.replace(options->first, 4, R"({"include_usage":true})");
      return out;
    }
    out.insert(open + 1, R"("stream_options":{"include_usage":true},)");
    return out;
  }
  std::string_view value =
      body.substr(options->first, options->second - options->first);
  if (value.empty() || value.front() != '{') return std::nullopt;
  if (auto flag = FindTopLevelMember(value, "include_usage")) {
    // "include_usage": false is the client's default spelled out: ask for
    // usage anyway (and strip it again).
    if (value.substr(flag->first, flag->second - flag->first) != "false") {
      return std::nullopt;
    }
    out.replace(options->first + flag->first, 5, "true");
    return out;
  }
  std::size_t inner = SkipSpace(value, 1);
  const bool empty = inner < value.size() && value[inner] == '}';
  out.insert(options->first + 1,
             empty ? R"("include_usage":true)" : R"("include_usage":true,)");
  return out;
}

std::optional<TokenUsage> ExtractUsage(std::string_view body) {
  auto span = FindTopLevelMember(body, "usage");
  if (!span.has_value()) return std::nullopt;
  std::string_view value = body.substr(span->first, span->second - span->first);
  if (value.empty() || value.front() != '{') return std::nullopt;
  json::basic_parser<UsageHandler> parser(json::parse_options{});
  json::error_code ec;
  const std::size_t consumed =
      parser.write_some(false, value.data(), value.size(), ec);
  if (ec || consumed < value.size() || !parser.handler().top_is_object) {
    return std::nullopt;
  }
  const UsageHandler& h = parser.handler();
  TokenUsage usage;
  usage.prompt_tokens = h.prompt ? *h.prompt : h.input.value_or(0);
  usage.completion_tokens = h.completion ? *h.completion : h.output.value_or(0);
  usage.cached_tokens = h.cached;
  return usage;
}

std::optional<std::string> StripNullUsage(std::string_view data) {
  if (data.find("\"usage\"") == std::string_view::npos) return std::nullopt;
  std::size_t pos = SkipSpace(data, 0);
  if (pos >= data.size() || data[pos] != '{') return std::nullopt;
  ++pos;
  // End of the previous member's value (npos before the first member).
  std::size_t previous_end = std::string_view::npos;
  while (true) {
    pos = SkipSpace(data, pos);
    if (pos >= data.size() || data[pos] != '"') break;
    const std::size_t key_begin = pos;
    std::size_t key_end = SkipValue(data, pos);
    if (key_end > data.size()) break;
    bool is_usage = KeyEquals(data.substr(pos, key_end - pos), "usage");
    pos = SkipSpace(data, key_end);
    if (pos >= data.size() || data[pos] != ':') break;
    pos = SkipSpace(data, pos + 1);
    if (pos >= data.size()) break;
    std::size_t value_end = SkipValue(data, pos);
    if (value_end > data.size()) break;
    if (is_usage && data.substr(pos, value_end - pos) == "null") {
      std::string out(data);
      if (previous_end != std::string_view::npos) {
        // ...,"usage":null  -> drop from the comma after the previous value.
        out.erase(previous_end, value_end - previous_end);
      } else {
        // {"usage":null,...} -> drop through the following comma.
        std::size_t after = SkipSpace(data, value_end);
        if (after < data.size() && data[after] == ',') {
          after = SkipSpace(data, after + 1);
        }
        out.erase(key_begin, after - key_begin);
      }
      return out;
    }
    previous_end = value_end;
    pos = SkipSpace(data, value_end);
    if (pos >= data.size() || data[pos] != ',') break;
    ++pos;
  }
  return std::nullopt;
}

bool IsUsageOnlyChunk(std::string_view data) {
  if (data.find("\"usage\"") == std::string_view::npos) return false;
  json::error_code ec;
  json::value v = json::parse(json::string_view(data.data(), data.size()), ec);
  if (ec || !v.is_object()) return false;
  const json::object& o = v.get_object();
  auto usage = o.find("usage");
  if (usage == o.end() || !usage->value().is_object()) return false;
  auto choices = o.find("choices");
  return choices == o.end() ||
         (choices->value().is_array() && choices->value().get_array().empty());
}

std::string SpliceModel(std::string_view body, std::string_view new_model,
                        std::optional<ByteRange> model_value) {
  // Model names rarely need escaping: quote them without Boost.JSON's
  // serializer (and its two allocations) unless they do.
  const bool plain =
      std::all_of(new_model.begin(), new_model.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 0x20 && c != '"' && c != '\\';
      });
  const std::string escaped = plain ? std::string() : JsonQuote(new_model);
  std::string out;
  out.reserve(body.size() + new_model.size() + 2 + escaped.size());
  auto append_model = [&] {
    if (plain) {
      out.push_back('"');
      out.append(new_model).push_back('"');
    } else {
      out.append(escaped);
    }
  };
  if (model_value.has_value()) {
    out.append(body.substr(0, model_value->begin));
    append_model();
    out.append(body.substr(model_value->end));
    return out;
  }
  std::size_t pos = SkipSpace(body, 0);
  if (pos >= body.size() || body[pos] != '{') return std::string(body);
  std::size_t copied = 0;
  ++pos;
  while (true) {
    pos = SkipSpace(body, pos);
    if (pos >= body.size() || body[pos] != '"') break;  // '}' or malformed
    std::size_t key_end = SkipValue(body, pos);
    bool is_model = KeyEquals(body.substr(pos, key_end - pos), "model");
    pos = SkipSpace(body, key_end);
    if (pos >= body.size() || body[pos] != ':') break;
    pos = SkipSpace(body, pos + 1);
    if (pos >= body.size()) break;
    std::size_t value_end = SkipValue(body, pos);
    if (is_model) {
      out.append(body.substr(copied, pos - copied));
      append_model();
      copied = value_end;
    }
    pos = SkipSpace(body, value_end);
    if (pos >= body.size() || body[pos] != ',') break;
    ++pos;
  }
  out.append(body.substr(copied));
  return out;
}

}  // namespace llmproxy::dataplane
