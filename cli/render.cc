#include "cli/render.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cli/table.h"
#include "google/protobuf/util/json_util.h"

namespace llmproxy::cli {
namespace {

std::string Enabled(bool has, bool value) {
  // Unset means the default, which is enabled.
  return (!has || value) ? "yes" : "no";
}

std::string JoinMap(const google::protobuf::Map<std::string, std::string>& m) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : m) parts.push_back(absl::StrCat(k, "=", v));
  // Map iteration order is unspecified; sort so output is stable.
  std::sort(parts.begin(), parts.end());
  return absl::StrJoin(parts, ",");
}

std::string Target(const v1::Assignment& a) {
  if (a.has_connection_id())
    return absl::StrCat("connection ", a.connection_id());
  if (a.has_model_id()) return absl::StrCat("model ", a.model_id());
  return "";
}

std::string IntOrEmpty(int64_t v) { return v == 0 ? "" : absl::StrCat(v); }

}  // namespace

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return "{}\n";
  if (out.empty() || out.back() != '\n') out += '\n';
  return out;
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                          absl::FromUnixSeconds(ts.seconds()),
                          absl::UTCTimeZone());
}

std::string FormatNumber(double v) {
  std::string s = absl::StrFormat("%.6f", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string LimitsSummary(const v1::Limits& l) {
  std::vector<std::string> parts;
  if (l.requests_per_second() > 0) {
    parts.push_back(
        absl::StrCat("rps=", FormatNumber(l.requests_per_second())));
  }
  if (l.request_burst() > 0) {
    parts.push_back(absl::StrCat("burst=", FormatNumber(l.request_burst())));
  }
  if (l.tokens_per_minute() > 0) {
    parts.push_back(absl::StrCat("tpm=", l.tokens_per_minute()));
  }
  if (l.token_burst() > 0) {
    parts.push_back(absl::StrCat("token_burst=", l.token_burst()));
  }
  if (l.max_concurrent() > 0) {
    parts.push_back(absl::StrCat("conc=", l.max_concurrent()));
  }
  if (l.budget_usd() > 0) {
    parts.push_back(
        absl::StrCat("budget=$", FormatNumber(l.budget_usd()), "/",
                     l.budget_period().empty() ? "month" : l.budget_period()));
  }
  return absl::StrJoin(parts, " ");
}

std::string RenderConnections(
    const google::protobuf::RepeatedPtrField<v1::Connection>& items) {
  Table t({"ID", "NAME", "PROVIDER", "ENDPOINT", "API_KEY", "ENABLED", "ETAG"});
  for (const v1::Connection& c : items) {
    t.AddRow({c.id(), c.name(), c.provider(), c.endpoint(), c.api_key_masked(),
              Enabled(c.has_enabled(), c.enabled()), c.etag()});
  }
  return t.Render();
}

std::string RenderConnection(const v1::Connection& c) {
  DetailView v;
  v.Add("id", c.id());
  v.Add("name", c.name());
  v.Add("provider", c.provider());
  v.Add("endpoint", c.endpoint());
  v.Add("api_key", c.api_key_masked());
  v.Add("api_version", c.api_version());
  v.Add("region", c.region());
  v.Add("extra_headers", JoinMap(c.extra_headers()));
  v.Add("timeout_ms", IntOrEmpty(c.timeout_ms()));
  v.Add("enabled", Enabled(c.has_enabled(), c.enabled()));
  v.Add("etag", c.etag());
  v.Add("created", FormatTimestamp(c.create_time()));
  v.Add("updated", FormatTimestamp(c.update_time()));
  return v.Render();
}

std::string RenderModels(
    const google::protobuf::RepeatedPtrField<v1::Model>& items) {
  Table t({"ID", "NAME", "REMOTE", "CONNECTION", "IN_$/1M", "OUT_$/1M",
           "WEIGHT", "PRIORITY", "ENABLED", "ETAG"});
  for (const v1::Model& m : items) {
    t.AddRow({m.id(), m.name(), m.remote_model(), m.connection_id(),
              FormatNumber(m.input_price_per_million()),
              FormatNumber(m.output_price_per_million()),
              absl::StrCat(m.weight()), absl::StrCat(m.priority()),
              Enabled(m.has_enabled(), m.enabled()), m.etag()});
  }
  return t.Render();
}

std::string RenderModel(const v1::Model& m) {
  DetailView v;
  v.Add("id", m.id());
  v.Add("name", m.name());
  v.Add("remote_model", m.remote_model());
  v.Add("connection_id", m.connection_id());
  v.Add("input_price", FormatNumber(m.input_price_per_million()));
  v.Add("output_price", FormatNumber(m.output_price_per_million()));
  v.Add("weight", absl::StrCat(m.weight()));
  v.Add("priority", absl::StrCat(m.priority()));
  v.Add("enabled", Enabled(m.has_enabled(), m.enabled()));
  v.Add("etag", m.etag());
  v.Add("created", FormatTimestamp(m.create_time()));
  v.Add("updated", FormatTimestamp(m.update_time()));
  return v.Render();
}

std::string RenderVirtualKeys(
    const google::protobuf::RepeatedPtrField<v1::VirtualKey>& items) {
  Table t({"ID", "NAME", "KEY", "ENABLED", "EXPIRES", "LIMITS", "ETAG"});
  for (const v1::VirtualKey& k : items) {
    t.AddRow({k.id(), k.name(), k.key_prefix(),
              Enabled(k.has_enabled(), k.enabled()),
              FormatTimestamp(k.expire_time()), LimitsSummary(k.limits()),
              k.etag()});
  }
  return t.Render();
}

std::string RenderVirtualKey(const v1::VirtualKey& k) {
  DetailView v;
  v.Add("id", k.id());
  v.Add("name", k.name());
  v.Add("key", k.key_prefix());
  v.Add("enabled", Enabled(k.has_enabled(), k.enabled()));
  v.Add("expires", FormatTimestamp(k.expire_time()));
  v.Add("metadata", JoinMap(k.metadata()));
  v.Add("limits", LimitsSummary(k.limits()));
  v.Add("etag", k.etag());
  v.Add("created", FormatTimestamp(k.create_time()));
  v.Add("updated", FormatTimestamp(k.update_time()));
  return v.Render();
}

std::string RenderAssignments(
    const google::protobuf::RepeatedPtrField<v1::Assignment>& items) {
  Table t({"ID", "VKEY", "TARGET", "LIMITS", "ETAG"});
  for (const v1::Assignment& a : items) {
    t.AddRow({a.id(), a.virtual_key_id(), Target(a), LimitsSummary(a.limits()),
              a.etag()});
  }
  return t.Render();
}

std::string RenderAssignment(const v1::Assignment& a) {
  DetailView v;
  v.Add("id", a.id());
  v.Add("virtual_key_id", a.virtual_key_id());
  v.Add("target", Target(a));
  v.Add("limits", LimitsSummary(a.limits()));
  v.Add("etag", a.etag());
  v.Add("created", FormatTimestamp(a.create_time()));
  v.Add("updated", FormatTimestamp(a.update_time()));
  return v.Render();
}

std::string RenderDataPlanes(const v1::ListDataPlanesResponse& resp) {
  Table t({"NODE_ID", "ADDRESS", "ACKED_REVISION", "IN_SYNC", "CONNECTED",
           "LAST_CONTACT", "LAST_NACK", "VERSION"});
  for (const v1::DataPlane& d : resp.data_planes()) {
    t.AddRow(
        {d.node_id(), d.address(), absl::StrCat(d.acked_revision()),
         d.acked_revision() == resp.current_revision() ? "yes" : "no",
         d.connected() ? "yes" : "no", FormatTimestamp(d.last_contact_time()),
         d.nacked_revision() == 0
             ? ""
             : absl::StrCat(d.nacked_revision(), ": ", d.last_nack_reason()),
         d.version()});
  }
  return absl::StrCat("current revision: ", resp.current_revision(), "\n",
                      t.Render());
}

std::string RenderUsage(const v1::QueryUsageRequest& query,
                        const v1::QueryUsageResponse& resp) {
  auto grouped = [&](std::string_view dim) {
    return std::find(query.group_by().begin(), query.group_by().end(), dim) !=
           query.group_by().end();
  };
  const bool bucket = !query.granularity().empty();
  std::vector<std::string> header;
  if (bucket) header.push_back("BUCKET");
  if (grouped("virtual_key")) header.push_back("VKEY");
  if (grouped("model")) header.push_back("MODEL");
  if (grouped("connection")) header.push_back("CONNECTION");
  for (const char* h : {"REQUESTS", "ERRORS", "PROMPT_TOKENS",
                        "COMPLETION_TOKENS", "COST_USD"}) {
    header.push_back(h);
  }
  Table t(header);
  for (const v1::UsageRow& r : resp.rows()) {
    std::vector<std::string> row;
    if (bucket) row.push_back(FormatTimestamp(r.bucket_start()));
    if (grouped("virtual_key")) row.push_back(r.virtual_key_id());
    if (grouped("model")) row.push_back(r.model());
    if (grouped("connection")) row.push_back(r.connection_id());
    row.push_back(absl::StrCat(r.requests()));
    row.push_back(absl::StrCat(r.errors()));
    row.push_back(absl::StrCat(r.prompt_tokens()));
    row.push_back(absl::StrCat(r.completion_tokens()));
    row.push_back(absl::StrFormat("%.6f", r.cost_usd()));
    t.AddRow(std::move(row));
  }
  return t.Render();
}

}  // namespace llmproxy::cli
