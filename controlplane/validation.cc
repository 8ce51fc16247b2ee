#include "controlplane/validation.h"

#include <cmath>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "boost/url/parse.hpp"
#include "common/crypto/secret_box.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/time_util.h"

namespace llmproxy::controlplane::validation {
namespace {

using google::protobuf::FieldMask;
using google::protobuf::util::FieldMaskUtil;
using google::protobuf::util::TimeUtil;

constexpr absl::string_view kProviders[] = {"openai",  "azure_openai",
                                            "gemini",  "anthropic",
                                            "bedrock", "openai_compatible"};
constexpr absl::string_view kBudgetPeriods[] = {"", "day", "week", "month",
                                                "total"};
constexpr std::size_t kMaxNameLength = 128;
constexpr std::size_t kMaxRemoteModelLength = 256;
constexpr std::size_t kMaxShortField = 64;
constexpr std::size_t kMaxEndpointLength = 2048;
constexpr std::size_t kMaxMapEntries = 64;
constexpr std::size_t kMaxMapValueLength = 1024;
constexpr int kMaxTimeoutMs = 3600 * 1000;
constexpr int kMaxUsageBatch = 1000;

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, " ", what));
}

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == '-';
}

absl::Status ValidateName(absl::string_view name, absl::string_view field) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return Invalid(field, "must be 1-128 characters");
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return Invalid(field, "may only contain A-Z a-z 0-9 . _ -");
    }
  }
  return absl::OkStatus();
}

// Model aliases follow what providers name models, which includes "/" (e.g.
// "meta-llama/Llama-3-8B") and ":" (Bedrock's "...-v1:0").
absl::Status ValidateModelName(absl::string_view name, absl::string_view field,
                               std::size_t max_length) {
  if (name.empty() || name.size() > max_length) {
    return Invalid(field,
                   absl::StrCat("must be 1-", max_length, " characters"));
  }
  for (char c : name) {
    if (!IsNameChar(c) && c != '/' && c != ':' && c != '@') {
      return Invalid(field, "may only contain A-Z a-z 0-9 . _ - / : @");
    }
  }
  return absl::OkStatus();
}

// Printable ASCII without spaces: what API keys and header values are made
// of. Rejecting control characters keeps CR/LF out of upstream headers.
bool IsPrintableToken(absl::string_view s) {
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

absl::Status ValidateEndpoint(absl::string_view endpoint,
                              absl::string_view field) {
  if (endpoint.size() > kMaxEndpointLength) {
    return Invalid(field, "must be at most 2048 characters");
  }
  auto url = boost::urls::parse_absolute_uri(
      boost::core::string_view(endpoint.data(), endpoint.size()));
  if (!url) return Invalid(field, "must be an http:// or https:// URL");
  std::string scheme = absl::AsciiStrToLower(std::string(url->scheme()));
  if ((scheme != "http" && scheme != "https") || url->host().empty()) {
    return Invalid(field, "must be an http:// or https:// URL");
  }
  if (url->has_userinfo()) {
    return Invalid(field, "must not carry credentials; use api_key");
  }
  return absl::OkStatus();
}

absl::Status ValidateStringMap(
    const google::protobuf::Map<std::string, std::string>& map,
    absl::string_view field, bool header_names) {
  if (map.size() > kMaxMapEntries) {
    return Invalid(field, "may have at most 64 entries");
  }
  for (const auto& [key, value] : map) {
    if (key.empty() || key.size() > kMaxShortField) {
      return Invalid(field, "keys must be 1-64 characters");
    }
    if (header_names) {
      for (char c : key) {
        if (!IsNameChar(c)) {
          return Invalid(field,
                         "keys must be HTTP header names [A-Za-z0-9._-]");
        }
      }
    }
    if (value.size() > kMaxMapValueLength) {
      return Invalid(field, "values must be at most 1024 characters");
    }
    for (char c : value) {
      if (c == '\r' || c == '\n' || c == '\0') {
        return Invalid(field, "values must not contain CR, LF or NUL");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status NonNegative(double value, absl::string_view field) {
  if (!std::isfinite(value) || value < 0) {
    return Invalid(field, "must be a finite number >= 0");
  }
  return absl::OkStatus();
}

absl::Status NonNegative(int64_t value, absl::string_view field) {
  if (value < 0) return Invalid(field, "must be >= 0");
  return absl::OkStatus();
}

// The range google.protobuf.Timestamp allows: 0001-01-01 to 9999-12-31.
bool IsValidTimestamp(const google::protobuf::Timestamp& t) {
  return t.seconds() >= TimeUtil::kTimestampMinSeconds &&
         t.seconds() <= TimeUtil::kTimestampMaxSeconds && t.nanos() >= 0 &&
         t.nanos() <= 999999999;
}

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateId(absl::string_view id, absl::string_view prefix,
                        absl::string_view field) {
  if (id.empty()) return Invalid(field, "is required");
  if (id.size() != prefix.size() + 12 || !absl::StartsWith(id, prefix) ||
      !IsHex(id.substr(prefix.size()))) {
    return Invalid(field,
                   absl::StrCat("must be an id like ", prefix, "0123456789ab"));
  }
  return absl::OkStatus();
}

absl::Status ValidateLimits(const v1::Limits& limits, absl::string_view field) {
  auto sub = [&](absl::string_view name) {
    return absl::StrCat(field, ".", name);
  };
  if (auto s =
          NonNegative(limits.requests_per_second(), sub("requests_per_second"));
      !s.ok()) {
    return s;
  }
  if (auto s = NonNegative(limits.request_burst(), sub("request_burst"));
      !s.ok()) {
    return s;
  }
  if (auto s =
          NonNegative(limits.tokens_per_minute(), sub("tokens_per_minute"));
      !s.ok()) {
    return s;
  }
  if (auto s = NonNegative(limits.token_burst(), sub("token_burst")); !s.ok()) {
    return s;
  }
  if (auto s =
          NonNegative(int64_t{limits.max_concurrent()}, sub("max_concurrent"));
      !s.ok()) {
    return s;
  }
  if (auto s = NonNegative(limits.budget_usd(), sub("budget_usd")); !s.ok()) {
    return s;
  }
  for (absl::string_view period : kBudgetPeriods) {
    if (limits.budget_period() == period) return absl::OkStatus();
  }
  return Invalid(sub("budget_period"),
                 "must be one of day, week, month, total");
}

absl::Status ValidateConnection(const v1::Connection& connection,
                                bool api_key_required) {
  if (auto s = ValidateName(connection.name(), "connection.name"); !s.ok()) {
    return s;
  }
  bool known_provider = false;
  for (absl::string_view provider : kProviders) {
    known_provider |= connection.provider() == provider;
  }
  if (!known_provider) {
    return Invalid("connection.provider",
                   "must be one of openai, azure_openai, gemini, anthropic, "
                   "bedrock, openai_compatible");
  }
  // Bedrock derives its endpoint from the region; every other provider needs
  // a base URL.
  if (connection.endpoint().empty()) {
    if (connection.provider() != "bedrock") {
      return Invalid("connection.endpoint", "is required");
    }
    if (connection.region().empty()) {
      return Invalid("connection.region",
                     "is required for bedrock when endpoint is empty");
    }
  } else if (auto s =
                 ValidateEndpoint(connection.endpoint(), "connection.endpoint");
             !s.ok()) {
    return s;
  }
  if (connection.api_key().empty()) {
    if (api_key_required) return Invalid("connection.api_key", "is required");
  } else if (connection.api_key().size() > kMaxApiKeyLength) {
    return Invalid("connection.api_key", "must be at most 4096 characters");
  } else if (!IsPrintableToken(connection.api_key())) {
    return Invalid("connection.api_key",
                   "must be printable ASCII without spaces");
  }
  if (connection.api_version().size() > kMaxShortField ||
      !IsPrintableToken(connection.api_version())) {
    return Invalid("connection.api_version",
                   "must be at most 64 printable characters");
  }
  if (connection.region().size() > kMaxShortField ||
      !IsPrintableToken(connection.region())) {
    return Invalid("connection.region",
                   "must be at most 64 printable characters");
  }
  if (auto s = ValidateStringMap(connection.extra_headers(),
                                 "connection.extra_headers", true);
      !s.ok()) {
    return s;
  }
  if (connection.timeout_ms() < 0 || connection.timeout_ms() > kMaxTimeoutMs) {
    return Invalid("connection.timeout_ms", "must be between 0 and 3600000");
  }
  return absl::OkStatus();
}

absl::Status ValidateModel(const v1::Model& model) {
  if (auto s = ValidateModelName(model.name(), "model.name", kMaxNameLength);
      !s.ok()) {
    return s;
  }
  if (auto s = ValidateModelName(model.remote_model(), "model.remote_model",
                                 kMaxRemoteModelLength);
      !s.ok()) {
    return s;
  }
  if (auto s = ValidateId(model.connection_id(), "cn_", "model.connection_id");
      !s.ok()) {
    return s;
  }
  if (auto s = NonNegative(model.input_price_per_million(),
                           "model.input_price_per_million");
      !s.ok()) {
    return s;
  }
  if (auto s = NonNegative(model.output_price_per_million(),
                           "model.output_price_per_million");
      !s.ok()) {
    return s;
  }
  if (model.weight() < 0) return Invalid("model.weight", "must be >= 0");
  if (model.priority() < 0) return Invalid("model.priority", "must be >= 0");
  return absl::OkStatus();
}

absl::Status ValidateVirtualKey(const v1::VirtualKey& key) {
  if (auto s = ValidateName(key.name(), "virtual_key.name"); !s.ok()) return s;
  if (!key.key().empty()) {
    if (key.key().size() < kMinVirtualKeyLength ||
        key.key().size() > kMaxVirtualKeyLength) {
      return Invalid("virtual_key.key", "must be 20-256 characters");
    }
    if (!IsPrintableToken(key.key())) {
      return Invalid("virtual_key.key",
                     "must be printable ASCII without spaces");
    }
  }
  if (key.has_expire_time() && !IsValidTimestamp(key.expire_time())) {
    return Invalid("virtual_key.expire_time", "is not a valid timestamp");
  }
  if (auto s = ValidateStringMap(key.metadata(), "virtual_key.metadata", false);
      !s.ok()) {
    return s;
  }
  return ValidateLimits(key.limits(), "virtual_key.limits");
}

absl::Status ValidateAssignment(const v1::Assignment& assignment) {
  if (auto s = ValidateId(assignment.virtual_key_id(), "vk_",
                          "assignment.virtual_key_id");
      !s.ok()) {
    return s;
  }
  switch (assignment.target_case()) {
    case v1::Assignment::kConnectionId:
      if (auto s = ValidateId(assignment.connection_id(), "cn_",
                              "assignment.connection_id");
          !s.ok()) {
        return s;
      }
      break;
    case v1::Assignment::kModelId:
      if (auto s =
              ValidateId(assignment.model_id(), "md_", "assignment.model_id");
          !s.ok()) {
        return s;
      }
      break;
    case v1::Assignment::TARGET_NOT_SET:
      return Invalid("assignment.target",
                     "needs exactly one of connection_id or model_id");
  }
  return ValidateLimits(assignment.limits(), "assignment.limits");
}

absl::StatusOr<int> EffectivePageSize(int page_size) {
  if (page_size < 0 || page_size > kMaxPageSize) {
    return Invalid("page_size", "must be between 0 and 1000");
  }
  return page_size == 0 ? kDefaultPageSize : page_size;
}

std::string MakePageToken(absl::string_view kind, absl::string_view after_id) {
  if (after_id.empty()) return "";
  return Base64Encode(absl::StrCat(kind, ":", after_id));
}

absl::StatusOr<std::string> ParsePageToken(absl::string_view token,
                                           absl::string_view kind) {
  if (token.empty()) return std::string();
  absl::StatusOr<std::string> decoded =
      Base64Decode(std::string_view(token.data(), token.size()));
  std::string prefix = absl::StrCat(kind, ":");
  if (!decoded.ok() || !absl::StartsWith(*decoded, prefix) ||
      decoded->size() == prefix.size() ||
      !IsPrintableToken(decoded->substr(prefix.size()))) {
    return Invalid("page_token", "is not a token returned by this List call");
  }
  return decoded->substr(prefix.size());
}

absl::StatusOr<FieldMask> ResolveUpdateMask(
    const FieldMask& mask, std::initializer_list<absl::string_view> updatable,
    std::initializer_list<absl::string_view> message_fields,
    absl::string_view field_name) {
  FieldMask resolved;
  if (mask.paths().empty()) {
    for (absl::string_view path : updatable)
      resolved.add_paths(std::string(path));
    return resolved;
  }
  for (const std::string& path : mask.paths()) {
    bool known = false;
    for (absl::string_view allowed : updatable) known |= path == allowed;
    for (absl::string_view parent : message_fields) {
      known |= absl::StartsWith(path, absl::StrCat(parent, ".")) &&
               path.size() > parent.size() + 1;
    }
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "update_mask path \"", path, "\" is not an updatable field of ",
          field_name, "; updatable: ", absl::StrJoin(updatable, ", ")));
    }
    resolved.add_paths(path);
  }
  return resolved;
}

void ApplyUpdateMask(const google::protobuf::Message& source,
                     const FieldMask& mask,
                     google::protobuf::Message* destination) {
  FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  FieldMaskUtil::MergeMessageTo(source, mask, options, destination);
}

absl::Status ValidateQueryUsage(const v1::QueryUsageRequest& request) {
  for (const std::string& group : request.group_by()) {
    if (group != "virtual_key" && group != "model" && group != "connection") {
      return Invalid("group_by",
                     "entries must be virtual_key, model or connection");
    }
  }
  if (request.granularity() != "" && request.granularity() != "hour" &&
      request.granularity() != "day") {
    return Invalid("granularity", "must be empty, hour or day");
  }
  if (request.has_start_time() && !IsValidTimestamp(request.start_time())) {
    return Invalid("start_time", "is not a valid timestamp");
  }
  if (request.has_end_time() && !IsValidTimestamp(request.end_time())) {
    return Invalid("end_time", "is not a valid timestamp");
  }
  if (request.has_start_time() && request.has_end_time() &&
      request.end_time() < request.start_time()) {
    return Invalid("end_time", "must not be before start_time");
  }
  if (!request.virtual_key_id().empty()) {
    if (auto s = ValidateId(request.virtual_key_id(), "vk_", "virtual_key_id");
        !s.ok()) {
      return s;
    }
  }
  if (!request.connection_id().empty()) {
    if (auto s = ValidateId(request.connection_id(), "cn_", "connection_id");
        !s.ok()) {
      return s;
    }
  }
  return EffectivePageSize(request.page_size()).status();
}

absl::Status ValidateUsageBatch(const v1::ReportUsageRequest& batch) {
  if (batch.records_size() > kMaxUsageBatch) {
    return Invalid("records", "may hold at most 1000 records per batch");
  }
  for (int i = 0; i < batch.records_size(); ++i) {
    const std::string& id = batch.records(i).request_id();
    if (id.empty() || id.size() > kMaxRemoteModelLength) {
      return Invalid(absl::StrCat("records[", i, "].request_id"),
                     "must be 1-256 characters");
    }
  }
  return absl::OkStatus();
}

}  // namespace llmproxy::controlplane::validation
