#pragma once

// Pure mapping from parsed command-line flags to AdminService and
// UsageService requests. Every flag is optional here: "not given" must stay
// distinguishable from "given as zero" because an update writes exactly the
// fields given (update_mask), and an empty mask would mean "every field".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "llmproxy/v1/admin_service.pb.h"
#include "llmproxy/v1/usage_service.pb.h"

namespace llmproxy::cli {

// Limits flags shared by `vkey` and `assignment`.
struct LimitFlags {
  std::optional<double> requests_per_second;  // --tps
  std::optional<double> request_burst;        // --burst
  std::optional<int64_t> tokens_per_minute;   // --tokens
  std::optional<int64_t> token_burst;         // --token-burst
  std::optional<int32_t> max_concurrent;      // --max-concurrent
  std::optional<double> budget_usd;           // --budget
  std::optional<std::string> budget_period;   // --budget-period

  bool any() const;
};

// Writes the limits given into `limits`, leaving the others as they are.
// INVALID_ARGUMENT for a negative value or an unknown budget period.
absl::Status ApplyLimitFlags(const LimitFlags& flags, v1::Limits* limits);

struct ConnectionFlags {
  std::optional<std::string> name;
  std::optional<std::string> provider;
  std::optional<std::string> endpoint;
  std::optional<std::string> api_key;
  std::optional<std::string> api_version;
  std::optional<std::string> region;
  std::optional<std::vector<std::string>> headers;  // "K=V" each
  std::optional<int32_t> timeout_ms;
  std::optional<bool> enabled;  // --enabled / --disabled
};

absl::StatusOr<v1::CreateConnectionRequest> MakeCreateConnectionRequest(
    const ConnectionFlags& flags);
// INVALID_ARGUMENT when no field flag is given: an empty update_mask would
// rewrite every field.
absl::StatusOr<v1::UpdateConnectionRequest> MakeUpdateConnectionRequest(
    std::string_view id, const ConnectionFlags& flags, std::string_view etag);

struct ModelFlags {
  std::optional<std::string> name;
  std::optional<std::string> remote_model;   // --remote
  std::optional<std::string> connection_id;  // --conn-id
  std::optional<double> input_price;         // --input-price (USD / 1M)
  std::optional<double> output_price;        // --output-price
  std::optional<int32_t> weight;
  std::optional<int32_t> priority;
  std::optional<bool> enabled;
};

absl::StatusOr<v1::CreateModelRequest> MakeCreateModelRequest(
    const ModelFlags& flags);
absl::StatusOr<v1::UpdateModelRequest> MakeUpdateModelRequest(
    std::string_view id, const ModelFlags& flags, std::string_view etag);

struct VirtualKeyFlags {
  std::optional<std::string> name;
  std::optional<std::string> key;
  std::optional<bool> enabled;
  // RFC 3339 time or a relative one; "never" (or "") clears it on update.
  std::optional<std::string> expires;
  std::optional<std::vector<std::string>> metadata;  // "K=V" each
  // Target of the assignment `vkey add` creates along with the key.
  std::optional<std::string> connection_id;
  std::optional<std::string> model_id;
  LimitFlags limits;
};

// What `vkey add` sends: the key, then (if a target was given) an assignment
// whose virtual_key_id is filled in once the key exists.
struct CreateVirtualKeyPlan {
  v1::CreateVirtualKeyRequest key;
  std::optional<v1::CreateAssignmentRequest> assignment;
};

// With --conn-id/--model-id the limit flags go to the assignment; without a
// target they are the key-wide limits (there is nowhere else for them to go).
absl::StatusOr<CreateVirtualKeyPlan> MakeCreateVirtualKeyPlan(
    const VirtualKeyFlags& flags, absl::Time now);
// Limit flags update the key-wide limits. `current_limits` are the key's
// limits now: the limits field is sent whole (mask path "limits") so servers
// that only take top-level mask paths work, and the limits not given keep
// their values.
absl::StatusOr<v1::UpdateVirtualKeyRequest> MakeUpdateVirtualKeyRequest(
    std::string_view id, const VirtualKeyFlags& flags,
    const v1::Limits& current_limits, std::string_view etag, absl::Time now);

struct AssignmentFlags {
  std::optional<std::string> virtual_key_id;  // --vkey-id
  std::optional<std::string> connection_id;   // --conn-id
  std::optional<std::string> model_id;        // --model-id
  LimitFlags limits;
};

absl::StatusOr<v1::CreateAssignmentRequest> MakeCreateAssignmentRequest(
    const AssignmentFlags& flags);
// See MakeUpdateVirtualKeyRequest for `current_limits`.
absl::StatusOr<v1::UpdateAssignmentRequest> MakeUpdateAssignmentRequest(
    std::string_view id, const AssignmentFlags& flags,
    const v1::Limits& current_limits, std::string_view etag);

struct UsageFlags {
  std::optional<std::string> from;
  std::optional<std::string> to;
  std::optional<std::string> by;  // "key,model,connection"
  std::optional<std::string> granularity;
  std::optional<std::string> virtual_key_id;
  std::optional<std::string> model;
  std::optional<std::string> connection_id;
};

// --by takes "key" (or "vkey", "virtual_key"), "model" and "connection" (or
// "conn"), comma-separated; returns the API's group_by names.
absl::StatusOr<std::vector<std::string>> ParseGroupBy(std::string_view by);

// --from defaults to 24 hours before `now`.
absl::StatusOr<v1::QueryUsageRequest> MakeQueryUsageRequest(
    const UsageFlags& flags, absl::Time now);

// Splits "K=V" (the value may contain '='); INVALID_ARGUMENT names `flag`.
absl::StatusOr<std::pair<std::string, std::string>> ParseKeyValue(
    std::string_view text, std::string_view flag);

}  // namespace llmproxy::cli
