#include "cli/requests.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/time_arg.h"

namespace llmproxy::cli {
namespace {

using google::protobuf::Timestamp;

// Debian's Abseil is built with its own string_view type, not std's.
absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

Timestamp ToProto(absl::Time t) {
  Timestamp ts;
  const int64_t nanos = absl::ToUnixNanos(t);
  ts.set_seconds(nanos / 1'000'000'000);
  ts.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  if (ts.nanos() < 0) {
    ts.set_seconds(ts.seconds() - 1);
    ts.set_nanos(ts.nanos() + 1'000'000'000);
  }
  return ts;
}

absl::Status NonNegative(std::optional<double> v, const char* flag) {
  if (v && *v < 0) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " must be >= 0"));
  }
  return absl::OkStatus();
}

absl::StatusOr<google::protobuf::Map<std::string, std::string>> ParseMap(
    const std::vector<std::string>& items, std::string_view flag) {
  google::protobuf::Map<std::string, std::string> map;
  for (const std::string& item : items) {
    absl::StatusOr<std::pair<std::string, std::string>> kv =
        ParseKeyValue(item, flag);
    if (!kv.ok()) return kv.status();
    map[kv->first] = kv->second;
  }
  return map;
}

// Fills `connection` from the flags given and records each field's mask path.
absl::Status FillConnection(const ConnectionFlags& f, v1::Connection* c,
                            std::vector<std::string>* paths) {
  if (f.name) c->set_name(*f.name), paths->push_back("name");
  if (f.provider) c->set_provider(*f.provider), paths->push_back("provider");
  if (f.endpoint) c->set_endpoint(*f.endpoint), paths->push_back("endpoint");
  if (f.api_key) c->set_api_key(*f.api_key), paths->push_back("api_key");
  if (f.api_version) {
    c->set_api_version(*f.api_version), paths->push_back("api_version");
  }
  if (f.region) c->set_region(*f.region), paths->push_back("region");
  if (f.headers) {
    absl::StatusOr<google::protobuf::Map<std::string, std::string>> map =
        ParseMap(*f.headers, "--header");
    if (!map.ok()) return map.status();
    *c->mutable_extra_headers() = *std::move(map);
    paths->push_back("extra_headers");
  }
  if (f.timeout_ms) {
    if (*f.timeout_ms < 0) {
      return absl::InvalidArgumentError("--timeout-ms must be >= 0");
    }
    c->set_timeout_ms(*f.timeout_ms), paths->push_back("timeout_ms");
  }
  if (f.enabled) c->set_enabled(*f.enabled), paths->push_back("enabled");
  return absl::OkStatus();
}

absl::Status FillModel(const ModelFlags& f, v1::Model* m,
                       std::vector<std::string>* paths) {
  if (absl::Status s = NonNegative(f.input_price, "--input-price"); !s.ok()) {
    return s;
  }
  if (absl::Status s = NonNegative(f.output_price, "--output-price"); !s.ok()) {
    return s;
  }
  if (f.weight && *f.weight < 0) {
    return absl::InvalidArgumentError("--weight must be >= 0");
  }
  if (f.name) m->set_name(*f.name), paths->push_back("name");
  if (f.remote_model) {
    m->set_remote_model(*f.remote_model), paths->push_back("remote_model");
  }
  if (f.connection_id) {
    m->set_connection_id(*f.connection_id), paths->push_back("connection_id");
  }
  if (f.input_price) {
    m->set_input_price_per_million(*f.input_price);
    paths->push_back("input_price_per_million");
  }
  if (f.output_price) {
    m->set_output_price_per_million(*f.output_price);
    paths->push_back("output_price_per_million");
  }
  if (f.weight) m->set_weight(*f.weight), paths->push_back("weight");
  if (f.priority) m->set_priority(*f.priority), paths->push_back("priority");
  if (f.enabled) m->set_enabled(*f.enabled), paths->push_back("enabled");
  return absl::OkStatus();
}

absl::Status FillVirtualKey(const VirtualKeyFlags& f, absl::Time now,
                            v1::VirtualKey* k,
                            std::vector<std::string>* paths) {
  if (f.name) k->set_name(*f.name), paths->push_back("name");
  if (f.enabled) k->set_enabled(*f.enabled), paths->push_back("enabled");
  if (f.expires) {
    std::string text(absl::StripAsciiWhitespace(*f.expires));
    if (!text.empty() && text != "never") {
      absl::StatusOr<absl::Time> t = ParseFutureTimeArg(text, now);
      if (!t.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--expires: ", t.status().message()));
      }
      *k->mutable_expire_time() = ToProto(*t);
    }
    paths->push_back("expire_time");
  }
  if (f.metadata) {
    absl::StatusOr<google::protobuf::Map<std::string, std::string>> map =
        ParseMap(*f.metadata, "--meta");
    if (!map.ok()) return map.status();
    *k->mutable_metadata() = *std::move(map);
    paths->push_back("metadata");
  }
  return absl::OkStatus();
}

absl::Status CheckOneTarget(const std::optional<std::string>& conn,
                            const std::optional<std::string>& model) {
  if (conn && model) {
    return absl::InvalidArgumentError("give --conn-id or --model-id, not both");
  }
  return absl::OkStatus();
}

google::protobuf::FieldMask MaskOf(const std::vector<std::string>& paths) {
  google::protobuf::FieldMask mask;
  for (const std::string& p : paths) mask.add_paths(p);
  return mask;
}

absl::Status NothingToUpdate() {
  return absl::InvalidArgumentError(
      "nothing to update: give at least one field flag (see --help)");
}

}  // namespace

bool LimitFlags::any() const {
  return requests_per_second || request_burst || tokens_per_minute ||
         token_burst || max_concurrent || budget_usd || budget_period;
}

absl::Status ApplyLimitFlags(const LimitFlags& f, v1::Limits* limits) {
  for (auto [v, flag] : {std::pair{f.requests_per_second, "--tps"},
                         std::pair{f.request_burst, "--burst"},
                         std::pair{f.budget_usd, "--budget"}}) {
    if (absl::Status s = NonNegative(v, flag); !s.ok()) return s;
  }
  if ((f.tokens_per_minute && *f.tokens_per_minute < 0) ||
      (f.token_burst && *f.token_burst < 0) ||
      (f.max_concurrent && *f.max_concurrent < 0)) {
    return absl::InvalidArgumentError(
        "--tokens, --token-burst and --max-concurrent must be >= 0");
  }
  if (f.budget_period && *f.budget_period != "day" &&
      *f.budget_period != "week" && *f.budget_period != "month" &&
      *f.budget_period != "total") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--budget-period must be day, week, month or total, not \"",
        *f.budget_period, "\""));
  }
  if (f.requests_per_second) {
    limits->set_requests_per_second(*f.requests_per_second);
  }
  if (f.request_burst) limits->set_request_burst(*f.request_burst);
  if (f.tokens_per_minute) limits->set_tokens_per_minute(*f.tokens_per_minute);
  if (f.token_burst) limits->set_token_burst(*f.token_burst);
  if (f.max_concurrent) limits->set_max_concurrent(*f.max_concurrent);
  if (f.budget_usd) limits->set_budget_usd(*f.budget_usd);
  if (f.budget_period) limits->set_budget_period(*f.budget_period);
  return absl::OkStatus();
}

absl::StatusOr<std::pair<std::string, std::string>> ParseKeyValue(
    std::string_view text, std::string_view flag) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(flag),
                                                   " wants KEY=VALUE, got \"",
                                                   std::string(text), "\""));
  }
  return std::pair{std::string(text.substr(0, eq)),
                   std::string(text.substr(eq + 1))};
}

absl::StatusOr<v1::CreateConnectionRequest> MakeCreateConnectionRequest(
    const ConnectionFlags& flags) {
  v1::CreateConnectionRequest req;
  std::vector<std::string> paths;
  if (absl::Status s = FillConnection(flags, req.mutable_connection(), &paths);
      !s.ok()) {
    return s;
  }
  return req;
}

absl::StatusOr<v1::UpdateConnectionRequest> MakeUpdateConnectionRequest(
    std::string_view id, const ConnectionFlags& flags, std::string_view etag) {
  v1::UpdateConnectionRequest req;
  std::vector<std::string> paths;
  if (absl::Status s = FillConnection(flags, req.mutable_connection(), &paths);
      !s.ok()) {
    return s;
  }
  if (paths.empty()) return NothingToUpdate();
  req.mutable_connection()->set_id(std::string(id));
  req.mutable_connection()->set_etag(std::string(etag));
  *req.mutable_update_mask() = MaskOf(paths);
  return req;
}

absl::StatusOr<v1::CreateModelRequest> MakeCreateModelRequest(
    const ModelFlags& flags) {
  v1::CreateModelRequest req;
  std::vector<std::string> paths;
  if (absl::Status s = FillModel(flags, req.mutable_model(), &paths); !s.ok()) {
    return s;
  }
  return req;
}

absl::StatusOr<v1::UpdateModelRequest> MakeUpdateModelRequest(
    std::string_view id, const ModelFlags& flags, std::string_view etag) {
  v1::UpdateModelRequest req;
  std::vector<std::string> paths;
  if (absl::Status s = FillModel(flags, req.mutable_model(), &paths); !s.ok()) {
    return s;
  }
  if (paths.empty()) return NothingToUpdate();
  req.mutable_model()->set_id(std::string(id));
  req.mutable_model()->set_etag(std::string(etag));
  *req.mutable_update_mask() = MaskOf(paths);
  return req;
}

absl::StatusOr<CreateVirtualKeyPlan> MakeCreateVirtualKeyPlan(
    const VirtualKeyFlags& flags, absl::Time now) {
  if (absl::Status s = CheckOneTarget(flags.connection_id, flags.model_id);
      !s.ok()) {
    return s;
  }
  CreateVirtualKeyPlan plan;
  v1::VirtualKey* key = plan.key.mutable_virtual_key();
  std::vector<std::string> paths;
  if (absl::Status s = FillVirtualKey(flags, now, key, &paths); !s.ok()) {
    return s;
  }
  if (flags.key) key->set_key(*flags.key);
  if (flags.connection_id || flags.model_id) {
    v1::Assignment* a = plan.assignment.emplace().mutable_assignment();
    if (flags.connection_id) a->set_connection_id(*flags.connection_id);
    if (flags.model_id) a->set_model_id(*flags.model_id);
    if (absl::Status s = ApplyLimitFlags(flags.limits, a->mutable_limits());
        !s.ok()) {
      return s;
    }
  } else if (flags.limits.any()) {
    if (absl::Status s = ApplyLimitFlags(flags.limits, key->mutable_limits());
        !s.ok()) {
      return s;
    }
  }
  return plan;
}

absl::StatusOr<v1::UpdateVirtualKeyRequest> MakeUpdateVirtualKeyRequest(
    std::string_view id, const VirtualKeyFlags& flags,
    const v1::Limits& current_limits, std::string_view etag, absl::Time now) {
  if (flags.key) {
    return absl::InvalidArgumentError(
        "a key cannot be changed: delete it and add a new one");
  }
  if (flags.connection_id || flags.model_id) {
    return absl::InvalidArgumentError(
        "vkey update does not take --conn-id/--model-id: use `assignment "
        "add`");
  }
  v1::UpdateVirtualKeyRequest req;
  v1::VirtualKey* key = req.mutable_virtual_key();
  std::vector<std::string> paths;
  if (absl::Status s = FillVirtualKey(flags, now, key, &paths); !s.ok()) {
    return s;
  }
  if (flags.limits.any()) {
    *key->mutable_limits() = current_limits;
    if (absl::Status s = ApplyLimitFlags(flags.limits, key->mutable_limits());
        !s.ok()) {
      return s;
    }
    paths.push_back("limits");
  }
  if (paths.empty()) return NothingToUpdate();
  key->set_id(std::string(id));
  key->set_etag(std::string(etag));
  *req.mutable_update_mask() = MaskOf(paths);
  return req;
}

absl::StatusOr<v1::CreateAssignmentRequest> MakeCreateAssignmentRequest(
    const AssignmentFlags& flags) {
  if (absl::Status s = CheckOneTarget(flags.connection_id, flags.model_id);
      !s.ok()) {
    return s;
  }
  if (!flags.connection_id && !flags.model_id) {
    return absl::InvalidArgumentError("give --conn-id or --model-id");
  }
  v1::CreateAssignmentRequest req;
  v1::Assignment* a = req.mutable_assignment();
  if (flags.virtual_key_id) a->set_virtual_key_id(*flags.virtual_key_id);
  if (flags.connection_id) a->set_connection_id(*flags.connection_id);
  if (flags.model_id) a->set_model_id(*flags.model_id);
  if (absl::Status s = ApplyLimitFlags(flags.limits, a->mutable_limits());
      !s.ok()) {
    return s;
  }
  return req;
}

absl::StatusOr<v1::UpdateAssignmentRequest> MakeUpdateAssignmentRequest(
    std::string_view id, const AssignmentFlags& flags,
    const v1::Limits& current_limits, std::string_view etag) {
  if (absl::Status s = CheckOneTarget(flags.connection_id, flags.model_id);
      !s.ok()) {
    return s;
  }
  v1::UpdateAssignmentRequest req;
  v1::Assignment* a = req.mutable_assignment();
  std::vector<std::string> paths;
  if (flags.virtual_key_id) {
    a->set_virtual_key_id(*flags.virtual_key_id);
    paths.push_back("virtual_key_id");
  }
  if (flags.connection_id) {
    a->set_connection_id(*flags.connection_id);
    paths.push_back("connection_id");
  }
  if (flags.model_id) {
    a->set_model_id(*flags.model_id);
    paths.push_back("model_id");
  }
  if (flags.limits.any()) {
    *a->mutable_limits() = current_limits;
    if (absl::Status s = ApplyLimitFlags(flags.limits, a->mutable_limits());
        !s.ok()) {
      return s;
    }
    paths.push_back("limits");
  }
  if (paths.empty()) return NothingToUpdate();
  a->set_id(std::string(id));
  a->set_etag(std::string(etag));
  *req.mutable_update_mask() = MaskOf(paths);
  return req;
}

absl::StatusOr<std::vector<std::string>> ParseGroupBy(std::string_view by) {
  std::vector<std::string> out;
  for (absl::string_view part :
       absl::StrSplit(ToAbsl(by), ',', absl::SkipWhitespace())) {
    std::string p(absl::StripAsciiWhitespace(part));
    std::string name;
    if (p == "key" || p == "vkey" || p == "virtual_key") {
      name = "virtual_key";
    } else if (p == "model") {
      name = "model";
    } else if (p == "connection" || p == "conn") {
      name = "connection";
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--by takes key, model and connection (comma-separated), not \"", p,
          "\""));
    }
    if (std::find(out.begin(), out.end(), name) == out.end()) {
      out.push_back(name);
    }
  }
  return out;
}

absl::StatusOr<v1::QueryUsageRequest> MakeQueryUsageRequest(
    const UsageFlags& flags, absl::Time now) {
  v1::QueryUsageRequest req;
  absl::StatusOr<absl::Time> from =
      ParseTimeArg(flags.from.value_or("-24h"), now);
  if (!from.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--from: ", from.status().message()));
  }
  *req.mutable_start_time() = ToProto(*from);
  if (flags.to) {
    absl::StatusOr<absl::Time> to = ParseTimeArg(*flags.to, now);
    if (!to.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--to: ", to.status().message()));
    }
    if (*to <= *from) {
      return absl::InvalidArgumentError("--to must be after --from");
    }
    *req.mutable_end_time() = ToProto(*to);
  }
  if (flags.by) {
    absl::StatusOr<std::vector<std::string>> group_by = ParseGroupBy(*flags.by);
    if (!group_by.ok()) return group_by.status();
    for (std::string& g : *group_by) req.add_group_by(std::move(g));
  }
  if (flags.granularity) {
    const std::string& g = *flags.granularity;
    if (g != "hour" && g != "day" && g != "total" && !g.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--granularity must be hour or day, not \"", g, "\""));
    }
    if (g != "total") req.set_granularity(g);
  }
  if (flags.virtual_key_id) req.set_virtual_key_id(*flags.virtual_key_id);
  if (flags.model) req.set_model(*flags.model);
  if (flags.connection_id) req.set_connection_id(*flags.connection_id);
  return req;
}

}  // namespace llmproxy::cli
