#include "dataplane/request_handler.h"

#include <algorithm>
#include <array>
#include <utility>

#include "boost/json/array.hpp"
#include "boost/json/object.hpp"
#include "boost/json/serialize.hpp"
#include "dataplane/request_body.h"
#include "dataplane/virtual_key_auth.h"

namespace llmproxy::dataplane {
namespace {

boost::json::object ModelObject(const ConfigSnapshot& snapshot,
                                std::string_view alias) {
  boost::json::object model;
  model["id"] = alias;
  model["object"] = "model";
  model["created"] = snapshot.AliasCreatedUnix(alias);
  model["owned_by"] = "llm-proxy";
  return model;
}

DirectResponse JsonResponse(int status, const boost::json::object& body) {
  DirectResponse r;
  r.status = status;
  r.body = boost::json::serialize(body);
  return r;
}

DirectResponse ListModels(const ConfigSnapshot& snapshot,
                          const Caller& caller) {
  std::vector<std::string_view> names;
  if (caller.is_master) {
    for (const auto& [alias, grant] : snapshot.aliases())
      names.push_back(alias);
  } else {
    for (const auto& [alias, grant] : caller.key->aliases) {
      names.push_back(alias);
    }
  }
  std::sort(names.begin(), names.end());
  boost::json::array data;
  for (std::string_view name : names) {
    data.push_back(ModelObject(snapshot, name));
  }
  boost::json::object body;
  body["object"] = "list";
  body["data"] = std::move(data);
  return JsonResponse(200, body);
}

}  // namespace

DirectResponse ErrorResponse(const ApiError& error) {
  DirectResponse r;
  r.status = error.status;
  r.body = error.ToJson();
  return r;
}

HandlerResult HandleClientRequest(const ClientRequest& request,
                                  const ConfigSnapshotPtr& snapshot,
                                  const HandlerOptions& options,
                                  std::chrono::system_clock::time_point now,
                                  const RandomBelow& random,
                                  RequestInfo* info) {
  RequestInfo scratch;
  if (info == nullptr) info = &scratch;
  Route route = MatchRoute(request.method, request.target);
  if (route.kind == RouteKind::kNotFound) {
    return ErrorResponse(UnknownUrl(request.method, request.target));
  }
  if (route.kind == RouteKind::kMethodNotAllowed) {
    DirectResponse r =
        ErrorResponse(MethodNotAllowed(request.method, request.target));
    r.headers.emplace_back("Allow", std::string(route.allow));
    return r;
  }
  if (snapshot == nullptr) return ErrorResponse(ConfigNotLoaded());

  ApiError error;
  auto caller =
      Authenticate(*snapshot, request.api_key, options.master_key_sha256, now,
                   &error, request.key_hasher);
  if (!caller.ok()) return ErrorResponse(error);
  if (caller->key != nullptr) {
    info->virtual_key_id = caller->key->id;
    info->virtual_key_name = caller->key->name;
  } else {
    info->virtual_key_name = "master";
  }

  if (route.kind == RouteKind::kListModels) {
    return ListModels(*snapshot, *caller);
  }
  if (route.kind == RouteKind::kGetModel) {
    if (caller->Grant(*snapshot, route.model) != nullptr) {
      return JsonResponse(200, ModelObject(*snapshot, route.model));
    }
    if (snapshot->FindAlias(route.model) == nullptr) {
      return ErrorResponse(ModelNotFound(route.model));
    }
    return ErrorResponse(ModelNotAllowed(route.model));
  }

  auto facts = InspectRequestBody(request.body, route.operation, &error);
  if (!facts.ok()) return ErrorResponse(error);
  info->model = facts->model;
  info->stream = facts->stream;
  const AliasGrant* grant = caller->Grant(*snapshot, facts->model);
  if (grant == nullptr) {
    if (snapshot->FindAlias(facts->model) == nullptr) {
      return ErrorResponse(ModelNotFound(facts->model));
    }
    return ErrorResponse(ModelNotAllowed(facts->model));
  }

  ProxyPlan plan;
  plan.snapshot = snapshot;
  plan.alias = facts->model;
  plan.stream = facts->stream;
  plan.operation = route.operation;
  // Ask for usage on every stream (limits and usage need the real token
  // counts); the client sees the extra chunk only if it asked for it.
  std::optional<std::string> with_usage;
  if (facts->stream && route.operation != Operation::kEmbeddings &&
      !facts->stream_options_include_usage) {
    with_usage = InjectIncludeUsage(request.body);
    plan.strip_usage_chunk = with_usage.has_value();
  }
  const std::string_view body =
      with_usage.has_value() ? std::string_view(*with_usage) : request.body;
  for (const Deployment* d :
       OrderDeployments(grant->deployments, options.max_attempts, random)) {
    const std::optional<UpstreamRequest>& upstream =
        d->upstream[static_cast<std::size_t>(route.operation)];
    if (!upstream.has_value()) continue;
    ProxyAttempt attempt;
    attempt.deployment = d;
    if (caller->key != nullptr) attempt.assignment = grant->AssignmentFor(d);
    // The model's place in the body is known unless the body was changed.
    attempt.body =
        upstream->rewrite_model
            ? SpliceModel(
                  body, d->remote_model,
                  with_usage.has_value() ? std::nullopt : facts->model_value)
            : std::string(body);
    attempt.request = &*upstream;
    plan.attempts.push_back(std::move(attempt));
  }
  if (plan.attempts.empty()) {
    return ErrorResponse(NoUsableDeployment(facts->model));
  }

  plan.estimate =
      EstimateTokens(*facts, route.operation, options.default_max_tokens);
  const ProxyAttempt& first = plan.attempts.front();
  if (first.assignment != nullptr) {
    info->assignment_id = first.assignment->id;
  }
  if (caller->key != nullptr) {
    const int32_t key_slot = caller->key->limit_slot;
    const int32_t assignment_slot =
        first.assignment != nullptr ? first.assignment->limit_slot : -1;
    std::array<LimitState*, Admission::kMaxScopes> scopes = {
        snapshot->Limits(key_slot), snapshot->Limits(assignment_slot)};
    if (scopes[0] != nullptr || scopes[1] != nullptr) {
      const int64_t cost = CostMicros(*first.deployment, plan.estimate.prompt,
                                      plan.estimate.completion);
      auto admitted = Admission::TryAdmit(scopes, plan.estimate.total(), cost);
      if (auto* refusal = std::get_if<LimitRefusal>(&admitted)) {
        info->refused = refusal->kind;
        const int32_t slot = refusal->scope == 0 ? key_slot : assignment_slot;
        LimitRefusalResponse refused =
            RefusalResponse(*refusal, snapshot->Scope(slot), caller->key->name,
                            plan.estimate, now);
        DirectResponse r = ErrorResponse(refused.error);
        r.headers = std::move(refused.headers);
        return r;
      }
      plan.admission.emplace(std::move(std::get<Admission>(admitted)));
      AppendRateLimitHeaders(plan.admission->status(), plan.rate_limit_headers);
    }
  }
  return plan;
}

}  // namespace llmproxy::dataplane
