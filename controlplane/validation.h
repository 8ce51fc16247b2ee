#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/field_mask.pb.h"
#include "llmproxy/v1/resources.pb.h"
#include "llmproxy/v1/usage_service.pb.h"

// Field-level validation of what AdminService and UsageService accept. Every
// refusal is INVALID_ARGUMENT with a message that names the field
// ("connection.endpoint must be an http:// or https:// URL"), so a client can
// tell which input to fix. Nothing here talks to the store or to gRPC:
// existence and uniqueness are the store's job.
namespace llmproxy::controlplane::validation {

namespace v1 = ::llmproxy::v1;

// Longest accepted provider API key and virtual key; anything longer is not a
// credential but a mistake (or an attack on memory).
inline constexpr std::size_t kMaxApiKeyLength = 4096;
inline constexpr std::size_t kMinVirtualKeyLength = 20;
inline constexpr std::size_t kMaxVirtualKeyLength = 256;
inline constexpr int kMaxPageSize = 1000;
inline constexpr int kDefaultPageSize = 100;

// Whether the complete resource (after an update mask was applied) is valid.
// `api_key_required`: true on create (a connection without a key is useless).
absl::Status ValidateConnection(const v1::Connection& connection,
                                bool api_key_required);
absl::Status ValidateModel(const v1::Model& model);
absl::Status ValidateVirtualKey(const v1::VirtualKey& key);
absl::Status ValidateAssignment(const v1::Assignment& assignment);
// `field` prefixes the messages, e.g. "virtual_key.limits".
absl::Status ValidateLimits(const v1::Limits& limits, absl::string_view field);

// An id of the given kind: prefix ("cn_", "md_", "vk_", "as_") + 12 hex.
// `field` names it in the error.
absl::Status ValidateId(absl::string_view id, absl::string_view prefix,
                        absl::string_view field);

// page_size must lie in 0..1000; 0 means 100. Returns the effective size.
absl::StatusOr<int> EffectivePageSize(int page_size);

// Page tokens are opaque to clients: base64 of "<kind>:<last id>", so a token
// of one List call cannot be replayed on another. Parse returns the id to
// continue after ("" for an empty token) or INVALID_ARGUMENT.
std::string MakePageToken(absl::string_view kind, absl::string_view after_id);
absl::StatusOr<std::string> ParsePageToken(absl::string_view token,
                                           absl::string_view kind);

// Checks the request's update_mask against the resource's updatable fields
// and returns the mask to apply: the given paths, or every updatable field
// when the mask is empty. `updatable` entries that are messages (e.g.
// "limits") also allow their sub-fields ("limits.budget_usd").
absl::StatusOr<google::protobuf::FieldMask> ResolveUpdateMask(
    const google::protobuf::FieldMask& mask,
    std::initializer_list<absl::string_view> updatable,
    std::initializer_list<absl::string_view> message_fields,
    absl::string_view field_name);

// Copies the fields `mask` names from `source` into `destination`; message
// and map fields are replaced as a whole unless a sub-path is named.
void ApplyUpdateMask(const google::protobuf::Message& source,
                     const google::protobuf::FieldMask& mask,
                     google::protobuf::Message* destination);

absl::Status ValidateQueryUsage(const v1::QueryUsageRequest& request);
// One reported batch: at most 1000 records, each with a request_id.
absl::Status ValidateUsageBatch(const v1::ReportUsageRequest& batch);

}  // namespace llmproxy::controlplane::validation
