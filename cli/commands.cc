#include "cli/commands.h"

#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/exit_code.h"
#include "cli/render.h"
#include "cli/requests.h"
#include "common/grpc_tls.h"
#include "grpcpp/grpcpp.h"
#include "llmproxy/v1/admin_service.grpc.pb.h"
#include "llmproxy/v1/usage_service.grpc.pb.h"

namespace llmproxy::cli {
namespace {

// Flags every verb takes.
struct GlobalFlags {
  std::string server = "localhost:50051";
  std::string admin_token;
  std::string output = "table";
  double timeout_seconds = 15;
  GrpcClientTls tls;
  // The name the server's certificate must carry when --server's host is
  // not it (a port-forward to localhost, an IP address).
  std::string tls_server_name;
  // Built from `tls` once the command line is parsed.
  std::shared_ptr<grpc::ChannelCredentials> credentials;

  bool json() const { return output == "json"; }
};

// --page-size/--page-token: given, list prints one page; absent, it follows
// next_page_token to the end.
struct PageFlags {
  std::optional<int32_t> page_size;
  std::optional<std::string> page_token;

  bool single_page() const { return page_size || page_token; }
};

// The control plane's stubs, with the admin token and a deadline on every
// call, and errors reworded so a connection failure names the server tried.
class Client {
 public:
  explicit Client(const GlobalFlags& flags) : flags_(flags) {
    grpc::ChannelArguments args;
    if (!flags.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(flags.tls_server_name);
    }
    channel_ = grpc::CreateCustomChannel(flags.server, flags.credentials, args);
    admin_ = v1::AdminService::NewStub(channel_);
    usage_ = v1::UsageService::NewStub(channel_);
  }

  v1::AdminService::Stub& admin() { return *admin_; }
  v1::UsageService::Stub& usage() { return *usage_; }

  // Calls `rpc` (a stub member function) with a fresh context.
  template <typename Stub, typename Req, typename Resp>
  absl::StatusOr<Resp> Call(Stub& stub,
                            grpc::Status (Stub::*rpc)(grpc::ClientContext*,
                                                      const Req&, Resp*),
                            const Req& req) {
    grpc::ClientContext ctx;
    if (!flags_.admin_token.empty()) {
      ctx.AddMetadata("authorization",
                      absl::StrCat("Bearer ", flags_.admin_token));
    }
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(
                         static_cast<int64_t>(flags_.timeout_seconds * 1000)));
    Resp resp;
    grpc::Status status = (stub.*rpc)(&ctx, req, &resp);
    if (!status.ok()) return Explain(status);
    return resp;
  }

 private:
  absl::Status Explain(const grpc::Status& status) {
    absl::Status s = FromGrpc(status);
    if (s.code() == absl::StatusCode::kUnavailable) {
      // A plain-text call to a TLS port, or a call without the client
      // certificate a mutual-TLS port asks for, fails as a closed socket;
      // say what to try.
      const std::string hint =
          UnavailableTlsHint(flags_.tls, s.message(), "--tls");
      return absl::UnavailableError(
          absl::StrCat("cannot reach the control plane at ", flags_.server,
                       " (", s.message(), ")", hint.empty() ? "" : "; ", hint));
    }
    if (s.code() == absl::StatusCode::kDeadlineExceeded) {
      return absl::DeadlineExceededError(
          absl::StrCat("no answer from the control plane at ", flags_.server,
                       " within ", flags_.timeout_seconds, "s"));
    }
    return s;
  }

  const GlobalFlags& flags_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::UsageService::Stub> usage_;
};

// Fetches pages with `call` until next_page_token is empty (or just one page
// when the user asked for paging), appending items with `merge`.
template <typename Resp, typename Req, typename CallFn, typename MergeFn>
absl::StatusOr<Resp> Paginate(Req req, const PageFlags& page, CallFn call,
                              MergeFn merge) {
  if (page.page_size) req.set_page_size(*page.page_size);
  if (page.page_token) req.set_page_token(*page.page_token);
  if (page.single_page()) return call(req);
  if (!page.page_size) req.set_page_size(1000);
  Resp all;
  for (int pages = 0;; ++pages) {
    absl::StatusOr<Resp> resp = call(req);
    if (!resp.ok()) return resp.status();
    merge(all, *resp);
    if (resp->next_page_token().empty()) break;
    // A server that hands back the token it was given would loop forever.
    if (resp->next_page_token() == req.page_token() || pages > 100000) {
      return absl::InternalError("server repeated its page token");
    }
    req.set_page_token(resp->next_page_token());
  }
  return all;
}

// Binds an optional flag: the target is set only if the flag is given.
template <typename T>
CLI::Option* Opt(CLI::App* app, const std::string& name,
                 std::optional<T>& target, const std::string& help) {
  return app->add_option_function<T>(
      name, [&target](const T& v) { target = v; }, help);
}

// A repeatable "K=V" flag; one value per occurrence so it cannot swallow a
// positional argument.
CLI::Option* RepeatedOpt(CLI::App* app, const std::string& name,
                         std::optional<std::vector<std::string>>& target,
                         const std::string& help) {
  return app
      ->add_option_function<std::vector<std::string>>(
          name, [&target](const std::vector<std::string>& v) { target = v; },
          help)
      ->allow_extra_args(false);
}

void AddEnabledFlags(CLI::App* cmd, std::optional<bool>& enabled) {
  CLI::Option* on = cmd->add_flag_callback(
      "--enabled", [&enabled] { enabled = true; }, "enable it");
  CLI::Option* off = cmd->add_flag_callback(
      "--disabled", [&enabled] { enabled = false; },
      "disable it (no traffic may use it)");
  on->excludes(off);
}

void AddLimitFlags(CLI::App* cmd, LimitFlags& l) {
  Opt(cmd, "--tps", l.requests_per_second,
      "requests per second (sustained rate)");
  Opt(cmd, "--burst", l.request_burst, "request burst (bucket size)");
  Opt(cmd, "--tokens", l.tokens_per_minute, "tokens per minute");
  Opt(cmd, "--token-burst", l.token_burst, "token burst (bucket size)");
  Opt(cmd, "--max-concurrent", l.max_concurrent, "most requests in flight");
  Opt(cmd, "--budget", l.budget_usd, "spend allowed per period, USD");
  Opt(cmd, "--budget-period", l.budget_period, "day|week|month|total")
      ->check(CLI::IsMember({"day", "week", "month", "total"}));
}

void AddPageFlags(CLI::App* cmd, PageFlags& p) {
  Opt(cmd, "--page-size", p.page_size,
      "fetch one page of this size (default: every page)");
  Opt(cmd, "--page-token", p.page_token, "fetch the page after this token");
}

// Everything the parsed command line fills in; it outlives parsing because
// CLI11 writes into it.
struct State {
  GlobalFlags global;
  // The verb selected by the command line; runs after parsing.
  std::function<absl::Status()> action;
  std::unique_ptr<Client> client;
  // Flag storage CLI11 writes into during parsing, owned here so it lives
  // until the action has run.
  std::vector<std::shared_ptr<void>> storage;

  template <typename T>
  T* Make() {
    auto p = std::make_shared<T>();
    storage.push_back(p);
    return p.get();
  }

  Client& client_() {
    if (!client) client = std::make_unique<Client>(global);
    return *client;
  }

  // Makes `verb` the action when the command line selects `cmd`.
  void OnSelect(CLI::App* cmd, std::function<absl::Status()> verb) {
    cmd->callback([this, verb = std::move(verb)] { action = verb; });
  }

  // Prints `message` as JSON, or `table` when the output is a table.
  void Print(const google::protobuf::Message& message,
             const std::string& table) {
    std::cout << (global.json() ? ToJson(message) : table);
  }
};

using AdminStub = v1::AdminService::Stub;

// An AdminService RPC, as a stub member function.
template <typename Req, typename Resp>
using AdminRpc = grpc::Status (AdminStub::*)(grpc::ClientContext*, const Req&,
                                             Resp*);

constexpr char kEtagHelp[] = "refuse (ABORTED) unless this is the current etag";

// What `update` parses: the id, the field flags given and an optional etag.
template <typename Flags>
struct UpdateFlags {
  std::string id, etag;
  Flags f;
};

// Calls `rpc` and prints its answer: as JSON, or as `render` makes it.
template <typename Req, typename Resp, typename Render>
absl::Status CallAndPrint(State& st, AdminRpc<Req, Resp> rpc, const Req& req,
                          Render render) {
  Client& c = st.client_();
  absl::StatusOr<Resp> resp = c.Call(c.admin(), rpc, req);
  if (!resp.ok()) return resp.status();
  st.Print(*resp, render(*resp));
  return absl::OkStatus();
}

// The current limits of a key or assignment (read with `get`) when limit
// flags are given, so an update of some limits keeps the others (limits are
// sent whole, see requests.h); without limit flags, no call and no limits.
template <typename GetReq, typename Resource>
absl::StatusOr<v1::Limits> CurrentLimits(Client& c, const LimitFlags& flags,
                                         AdminRpc<GetReq, Resource> get,
                                         const std::string& id) {
  if (!flags.any()) return v1::Limits();
  GetReq req;
  req.set_id(id);
  absl::StatusOr<Resource> r = c.Call(c.admin(), get, req);
  if (!r.ok()) return r.status();
  return r->limits();
}

// `list`: every page of `rpc` (or the one --page-size/--page-token name),
// merged, as JSON or as `render` makes a table of the `items` field, with
// the next page token if one is left. `first` is the request to start from
// (filters set, no paging).
template <typename Req, typename Resp, typename Item>
CLI::App* AddListCommand(
    CLI::App* cmd, State& st, const std::string& help, const Req* first,
    AdminRpc<Req, Resp> rpc,
    google::protobuf::RepeatedPtrField<Item>* (Resp::*items)(),
    std::string (*render)(const google::protobuf::RepeatedPtrField<Item>&)) {
  auto* page = st.Make<PageFlags>();
  CLI::App* list = cmd->add_subcommand("list", help);
  AddPageFlags(list, *page);
  st.OnSelect(list, [&st, first, page, rpc, items, render]() -> absl::Status {
    Client& c = st.client_();
    absl::StatusOr<Resp> resp = Paginate<Resp>(
        *first, *page,
        [&c, rpc](const Req& r) { return c.Call(c.admin(), rpc, r); },
        [items](Resp& all, Resp& p) {
          for (Item& x : *(p.*items)()) *(all.*items)()->Add() = std::move(x);
          all.set_next_page_token(p.next_page_token());
        });
    if (!resp.ok()) return resp.status();
    std::string table = render(*(resp.value().*items)());
    if (!resp->next_page_token().empty()) {
      absl::StrAppend(&table, "next page token: ", resp->next_page_token(),
                      "\n");
    }
    st.Print(*resp, table);
    return absl::OkStatus();
  });
  return list;
}

// `get ID`.
template <typename Req, typename Resp>
void AddGetCommand(CLI::App* cmd, State& st, const std::string& help,
                   const std::string& id_help, AdminRpc<Req, Resp> rpc,
                   std::string (*render)(const Resp&)) {
  auto* id = st.Make<std::string>();
  CLI::App* get = cmd->add_subcommand("get", help);
  get->add_option("id", *id, id_help)->required();
  st.OnSelect(get, [&st, id, rpc, render]() -> absl::Status {
    Req req;
    req.set_id(*id);
    return CallAndPrint(st, rpc, req, render);
  });
}

// `delete ID [--force] [--etag E]`, printing the config revision it made.
template <typename Req, typename Resp>
void AddDeleteCommand(CLI::App* cmd, State& st, const std::string& help,
                      const std::string& noun, const std::string& force_help,
                      AdminRpc<Req, Resp> rpc) {
  auto* req = st.Make<Req>();
  CLI::App* del = cmd->add_subcommand("delete", help);
  del->add_option_function<std::string>(
         "id", [req](const std::string& v) { req->set_id(v); },
         absl::StrCat(noun, " id"))
      ->required();
  del->add_flag_callback(
      "--force", [req] { req->set_force(true); }, force_help);
  del->add_option_function<std::string>(
      "--etag", [req](const std::string& v) { req->set_etag(v); }, kEtagHelp);
  st.OnSelect(del, [&st, req, rpc, noun]() -> absl::Status {
    return CallAndPrint(st, rpc, *req, [&](const Resp& resp) {
      return absl::StrCat("deleted ", noun, " ", req->id(),
                          " (config revision ", resp.revision(), ")\n");
    });
  });
}

void AddConnectionCommands(CLI::App& app, State& st) {
  CLI::App* cmd =
      app.add_subcommand("connection", "manage provider connections");
  cmd->alias("connections");
  cmd->require_subcommand(1);

  {
    auto* f = st.Make<ConnectionFlags>();
    CLI::App* add = cmd->add_subcommand("add", "create a connection");
    Opt(add, "--name", f->name, "unique name [A-Za-z0-9._-]")->required();
    Opt(add, "--provider", f->provider,
        "openai|azure_openai|gemini|anthropic|bedrock|openai_compatible")
        ->required();
    Opt(add, "--endpoint", f->endpoint,
        "base URL, e.g. https://api.openai.com/v1")
        ->required();
    Opt(add, "--api-key", f->api_key,
        "the provider's key (bedrock: ACCESS_KEY_ID:SECRET)")
        ->required();
    Opt(add, "--api-version", f->api_version, "Azure api-version");
    Opt(add, "--region", f->region, "Bedrock region");
    RepeatedOpt(add, "--header", f->headers, "extra upstream header K=V");
    Opt(add, "--timeout-ms", f->timeout_ms, "upstream timeout in ms");
    AddEnabledFlags(add, f->enabled);
    st.OnSelect(add, [&st, f]() -> absl::Status {
      absl::StatusOr<v1::CreateConnectionRequest> req =
          MakeCreateConnectionRequest(*f);
      if (!req.ok()) return req.status();
      return CallAndPrint(st, &AdminStub::CreateConnection, *req,
                          RenderConnection);
    });
  }
  AddListCommand(
      cmd, st, "list connections", st.Make<v1::ListConnectionsRequest>(),
      &AdminStub::ListConnections,
      &v1::ListConnectionsResponse::mutable_connections, RenderConnections);
  AddGetCommand(cmd, st, "show one connection", "connection id (cn_…)",
                &AdminStub::GetConnection, RenderConnection);
  {
    auto* u = st.Make<UpdateFlags<ConnectionFlags>>();
    CLI::App* update = cmd->add_subcommand(
        "update", "change the fields given (others keep their values)");
    update->add_option("id", u->id, "connection id")->required();
    Opt(update, "--name", u->f.name, "new name");
    Opt(update, "--provider", u->f.provider, "new provider");
    Opt(update, "--endpoint", u->f.endpoint, "new base URL");
    Opt(update, "--api-key", u->f.api_key, "new provider key");
    Opt(update, "--api-version", u->f.api_version, "Azure api-version");
    Opt(update, "--region", u->f.region, "Bedrock region");
    RepeatedOpt(update, "--header", u->f.headers,
                "extra header K=V (replaces all extra headers)");
    Opt(update, "--timeout-ms", u->f.timeout_ms, "upstream timeout in ms");
    AddEnabledFlags(update, u->f.enabled);
    update->add_option("--etag", u->etag, kEtagHelp);
    st.OnSelect(update, [&st, u]() -> absl::Status {
      absl::StatusOr<v1::UpdateConnectionRequest> req =
          MakeUpdateConnectionRequest(u->id, u->f, u->etag);
      if (!req.ok()) return req.status();
      return CallAndPrint(st, &AdminStub::UpdateConnection, *req,
                          RenderConnection);
    });
  }
  AddDeleteCommand(cmd, st, "delete a connection", "connection",
                   "also delete the models and assignments that use it",
                   &AdminStub::DeleteConnection);
}

void AddModelCommands(CLI::App& app, State& st) {
  CLI::App* cmd = app.add_subcommand("model", "manage models (deployments)");
  cmd->alias("models");
  cmd->require_subcommand(1);
  auto add_fields = [](CLI::App* c, ModelFlags& f, bool create) {
    CLI::Option* name = Opt(c, "--name", f.name, "alias clients send");
    CLI::Option* remote =
        Opt(c, "--remote", f.remote_model, "model name at the provider");
    CLI::Option* conn = Opt(c, "--conn-id", f.connection_id, "connection id");
    if (create) {
      name->required();
      remote->required();
      conn->required();
    }
    Opt(c, "--input-price", f.input_price, "USD per 1M prompt tokens");
    Opt(c, "--output-price", f.output_price, "USD per 1M completion tokens");
    Opt(c, "--weight", f.weight, "share of traffic among same-priority peers");
    Opt(c, "--priority", f.priority, "lower is tried first");
    AddEnabledFlags(c, f.enabled);
  };
  {
    auto* f = st.Make<ModelFlags>();
    CLI::App* add = cmd->add_subcommand("add", "create a model");
    add_fields(add, *f, true);
    st.OnSelect(add, [&st, f]() -> absl::Status {
      absl::StatusOr<v1::CreateModelRequest> req = MakeCreateModelRequest(*f);
      if (!req.ok()) return req.status();
      return CallAndPrint(st, &AdminStub::CreateModel, *req, RenderModel);
    });
  }
  AddListCommand(cmd, st, "list models", st.Make<v1::ListModelsRequest>(),
                 &AdminStub::ListModels,
                 &v1::ListModelsResponse::mutable_models, RenderModels);
  AddGetCommand(cmd, st, "show one model", "model id (md_…)",
                &AdminStub::GetModel, RenderModel);
  {
    auto* u = st.Make<UpdateFlags<ModelFlags>>();
    CLI::App* update = cmd->add_subcommand(
        "update", "change the fields given (others keep their values)");
    update->add_option("id", u->id, "model id")->required();
    add_fields(update, u->f, false);
    update->add_option("--etag", u->etag, kEtagHelp);
    st.OnSelect(update, [&st, u]() -> absl::Status {
      absl::StatusOr<v1::UpdateModelRequest> req =
          MakeUpdateModelRequest(u->id, u->f, u->etag);
      if (!req.ok()) return req.status();
      return CallAndPrint(st, &AdminStub::UpdateModel, *req, RenderModel);
    });
  }
  AddDeleteCommand(cmd, st, "delete a model", "model",
                   "also delete the assignments that use it",
                   &AdminStub::DeleteModel);
}

void AddVirtualKeyCommands(CLI::App& app, State& st) {
  CLI::App* cmd = app.add_subcommand("vkey", "manage virtual keys");
  cmd->alias("vkeys");
  cmd->require_subcommand(1);
  auto add_fields = [](CLI::App* c, VirtualKeyFlags& f) {
    AddEnabledFlags(c, f.enabled);
    Opt(c, "--expires", f.expires,
        "expiry: RFC 3339, a date, or a duration from now like 30d "
        "(update: \"never\" clears it)");
    RepeatedOpt(c, "--meta", f.metadata, "label K=V, e.g. owner=ml-team");
    AddLimitFlags(c, f.limits);
  };
  {
    auto* f = st.Make<VirtualKeyFlags>();
    CLI::App* add = cmd->add_subcommand(
        "add",
        "create a virtual key; with --conn-id/--model-id also an assignment "
        "carrying the limits (else the limits are key-wide)");
    Opt(add, "--name", f->name, "unique name")->required();
    Opt(add, "--key", f->key, "the key itself (default: generated sk-lp-…)");
    CLI::Option* conn =
        Opt(add, "--conn-id", f->connection_id, "assign every model of it");
    CLI::Option* model =
        Opt(add, "--model-id", f->model_id, "assign one model");
    conn->excludes(model);
    add_fields(add, *f);
    st.OnSelect(add, [&st, f]() -> absl::Status {
      absl::StatusOr<CreateVirtualKeyPlan> plan =
          MakeCreateVirtualKeyPlan(*f, absl::Now());
      if (!plan.ok()) return plan.status();
      Client& c = st.client_();
      absl::StatusOr<v1::VirtualKey> key =
          c.Call(c.admin(), &AdminStub::CreateVirtualKey, plan->key);
      if (!key.ok()) return key.status();
      absl::StatusOr<v1::Assignment> assignment =
          absl::NotFoundError("no assignment asked for");
      if (plan->assignment) {
        plan->assignment->mutable_assignment()->set_virtual_key_id(key->id());
        assignment =
            c.Call(c.admin(), &AdminStub::CreateAssignment, *plan->assignment);
      }
      // The plain key is printed even if the assignment failed: it cannot
      // be read back later.
      if (st.global.json()) {
        std::cout << "{\n\"virtual_key\": " << ToJson(*key);
        if (assignment.ok()) {
          std::cout << ",\n\"assignment\": " << ToJson(*assignment);
        }
        std::cout << "}\n";
        std::cerr << "note: the key is shown only this once; store it now\n";
      } else {
        std::cout << RenderVirtualKey(*key);
        if (assignment.ok()) {
          std::cout << "\nassignment:\n" << RenderAssignment(*assignment);
        }
        std::cout << "\nkey: " << key->key()
                  << "\nThis is the only time the key is shown: store it "
                     "now.\n";
      }
      if (plan->assignment && !assignment.ok()) {
        return absl::Status(
            assignment.status().code(),
            absl::StrCat("virtual key ", key->id(),
                         " was created but its assignment failed: ",
                         assignment.status().message()));
      }
      return absl::OkStatus();
    });
  }
  AddListCommand(
      cmd, st, "list virtual keys", st.Make<v1::ListVirtualKeysRequest>(),
      &AdminStub::ListVirtualKeys,
      &v1::ListVirtualKeysResponse::mutable_virtual_keys, RenderVirtualKeys);
  AddGetCommand(cmd, st, "show one virtual key", "virtual key id (vk_…)",
                &AdminStub::GetVirtualKey, RenderVirtualKey);
  {
    auto* u = st.Make<UpdateFlags<VirtualKeyFlags>>();
    CLI::App* update = cmd->add_subcommand(
        "update",
        "change the fields given; limit flags change the key-wide limits");
    update->add_option("id", u->id, "virtual key id")->required();
    Opt(update, "--name", u->f.name, "new name");
    add_fields(update, u->f);
    update->add_option("--etag", u->etag, kEtagHelp);
    st.OnSelect(update, [&st, u]() -> absl::Status {
      absl::StatusOr<v1::Limits> current = CurrentLimits(
          st.client_(), u->f.limits, &AdminStub::GetVirtualKey, u->id);
      if (!current.ok()) return current.status();
      absl::StatusOr<v1::UpdateVirtualKeyRequest> req =
          MakeUpdateVirtualKeyRequest(u->id, u->f, *current, u->etag,
                                      absl::Now());
      if (!req.ok()) return req.status();
      return CallAndPrint(st, &AdminStub::UpdateVirtualKey, *req,
                          RenderVirtualKey);
    });
  }
  AddDeleteCommand(cmd, st, "delete a virtual key and its assignments",
                   "virtual key", "accepted for symmetry",
                   &AdminStub::DeleteVirtualKey);
}

void AddAssignmentCommands(CLI::App& app, State& st) {
  CLI::App* cmd = app.add_subcommand(
      "assignment", "manage assignments (virtual key -> connection or model)");
  cmd->alias("assignments");
  cmd->require_subcommand(1);
  {
    auto* f = st.Make<AssignmentFlags>();
    CLI::App* add = cmd->add_subcommand("add", "create an assignment");
    Opt(add, "--vkey-id", f->virtual_key_id, "virtual key id")->required();
    CLI::Option* conn =
        Opt(add, "--conn-id", f->connection_id, "every model of a connection");
    CLI::Option* model = Opt(add, "--model-id", f->model_id, "one model");
    conn->excludes(model);
    AddLimitFlags(add, f->limits);
    st.OnSelect(add, [&st, f]() -> absl::Status {
      absl::StatusOr<v1::CreateAssignmentRequest> req =
          MakeCreateAssignmentRequest(*f);
      if (!req.ok()) return req.status();
      return CallAndPrint(st, &AdminStub::CreateAssignment, *req,
                          RenderAssignment);
    });
  }
  {
    auto* first = st.Make<v1::ListAssignmentsRequest>();
    CLI::App* list = AddListCommand(
        cmd, st, "list assignments", first, &AdminStub::ListAssignments,
        &v1::ListAssignmentsResponse::mutable_assignments, RenderAssignments);
    list->add_option_function<std::string>(
        "--vkey-id",
        [first](const std::string& v) { first->set_virtual_key_id(v); },
        "only this key's assignments");
  }
  AddGetCommand(cmd, st, "show one assignment", "assignment id (as_…)",
                &AdminStub::GetAssignment, RenderAssignment);
  {
    auto* u = st.Make<UpdateFlags<AssignmentFlags>>();
    CLI::App* update =
        cmd->add_subcommand("update", "change the target or the limits given");
    update->add_option("id", u->id, "assignment id")->required();
    CLI::Option* conn =
        Opt(update, "--conn-id", u->f.connection_id, "new target connection");
    CLI::Option* model =
        Opt(update, "--model-id", u->f.model_id, "new target model");
    conn->excludes(model);
    AddLimitFlags(update, u->f.limits);
    update->add_option("--etag", u->etag, kEtagHelp);
    st.OnSelect(update, [&st, u]() -> absl::Status {
      absl::StatusOr<v1::Limits> current = CurrentLimits(
          st.client_(), u->f.limits, &AdminStub::GetAssignment, u->id);
      if (!current.ok()) return current.status();
      absl::StatusOr<v1::UpdateAssignmentRequest> req =
          MakeUpdateAssignmentRequest(u->id, u->f, *current, u->etag);
      if (!req.ok()) return req.status();
      return CallAndPrint(st, &AdminStub::UpdateAssignment, *req,
                          RenderAssignment);
    });
  }
  AddDeleteCommand(cmd, st, "delete an assignment", "assignment",
                   "accepted for symmetry", &AdminStub::DeleteAssignment);
}

void AddUsageCommand(CLI::App& app, State& st) {
  auto* f = st.Make<UsageFlags>();
  CLI::App* cmd = app.add_subcommand("usage", "usage totals or time series");
  Opt(cmd, "--from", f->from,
      "start: RFC 3339, a date, or a duration ago like -24h, -7d (default "
      "-24h)");
  Opt(cmd, "--to", f->to, "end (exclusive), same forms (default: now)");
  Opt(cmd, "--by", f->by, "group by key,model,connection (comma-separated)");
  Opt(cmd, "--granularity", f->granularity,
      "hour|day for a time series (default: totals)")
      ->check(CLI::IsMember({"hour", "day", "total"}));
  Opt(cmd, "--vkey-id", f->virtual_key_id, "only this virtual key");
  Opt(cmd, "--model", f->model, "only this model alias");
  Opt(cmd, "--conn-id", f->connection_id, "only this connection");
  st.OnSelect(cmd, [&st, f]() -> absl::Status {
    absl::StatusOr<v1::QueryUsageRequest> req =
        MakeQueryUsageRequest(*f, absl::Now());
    if (!req.ok()) return req.status();
    Client& c = st.client_();
    absl::StatusOr<v1::QueryUsageResponse> resp =
        Paginate<v1::QueryUsageResponse>(
            *req, PageFlags(),
            [&c](const v1::QueryUsageRequest& r) {
              return c.Call(c.usage(), &v1::UsageService::Stub::QueryUsage, r);
            },
            [](v1::QueryUsageResponse& all, v1::QueryUsageResponse& p) {
              for (auto& x : *p.mutable_rows()) *all.add_rows() = std::move(x);
            });
    if (!resp.ok()) return resp.status();
    st.Print(*resp, RenderUsage(*req, *resp));
    return absl::OkStatus();
  });
}

void AddFleetCommands(CLI::App& app, State& st) {
  CLI::App* dp = app.add_subcommand("dataplanes", "data planes");
  dp->alias("dataplane");
  dp->require_subcommand(1);
  CLI::App* list = dp->add_subcommand(
      "list", "data planes known, with the config revision each acked");
  st.OnSelect(list, [&st]() -> absl::Status {
    return CallAndPrint(st, &AdminStub::ListDataPlanes,
                        v1::ListDataPlanesRequest(), RenderDataPlanes);
  });

  CLI::App* rev = app.add_subcommand("revision", "the newest config revision");
  st.OnSelect(rev, [&st]() -> absl::Status {
    return CallAndPrint(st, &AdminStub::GetConfigRevision,
                        v1::GetConfigRevisionRequest(),
                        [](const v1::GetConfigRevisionResponse& resp) {
                          return absl::StrCat(resp.revision(), "\n");
                        });
  });
}

}  // namespace

int RunCli(int argc, char** argv) {
  State st;
  CLI::App app{
      "llm-proxy: admin CLI of the llm-proxy control plane (gRPC "
      "AdminService/UsageService)",
      "llm-proxy"};
  app.require_subcommand(1);
  // Global flags may follow the verb: `llm-proxy connection list -o json`.
  app.fallthrough();
  app.footer(absl::StrCat(
      "\nEvery global flag has an environment twin: LLMPROXY_SERVER, "
      "LLMPROXY_ADMIN_TOKEN, LLMPROXY_OUTPUT.\n\n",
      ExitCodeHelp()));
  app.add_option("--server", st.global.server,
                 "control plane gRPC address host:port")
      ->envname("LLMPROXY_SERVER")
      ->capture_default_str();
  app.add_option("--admin-token", st.global.admin_token,
                 "admin token, sent as 'authorization: Bearer …'")
      ->envname("LLMPROXY_ADMIN_TOKEN");
  app.add_option("-o,--output", st.global.output, "table|json")
      ->envname("LLMPROXY_OUTPUT")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--timeout", st.global.timeout_seconds,
                 "seconds to wait for each call")
      ->envname("LLMPROXY_TIMEOUT")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--tls", st.global.tls.enabled,
               "use TLS (system CA roots) instead of plain text (implied by "
               "the three --tls-* files)")
      ->envname("LLMPROXY_TLS");
  app.add_option("--tls-ca", st.global.tls.ca_file,
                 "PEM CA certificates the server's certificate is checked "
                 "against (instead of the system's)")
      ->envname("LLMPROXY_TLS_CA");
  app.add_option("--tls-cert", st.global.tls.cert_file,
                 "PEM client certificate chain, for a control plane that "
                 "asks for one (mutual TLS)")
      ->envname("LLMPROXY_TLS_CERT");
  app.add_option("--tls-key", st.global.tls.key_file,
                 "PEM private key of --tls-cert")
      ->envname("LLMPROXY_TLS_KEY");
  app.add_option("--tls-server-name", st.global.tls_server_name,
                 "the name the server's certificate must carry, when it is "
                 "not --server's host (e.g. through a port-forward; implies "
                 "--tls)")
      ->envname("LLMPROXY_TLS_SERVER_NAME");

  AddConnectionCommands(app, st);
  AddModelCommands(app, st);
  AddVirtualKeyCommands(app, st);
  AddAssignmentCommands(app, st);
  AddUsageCommand(app, st);
  AddFleetCommands(app, st);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (!st.action) return kExitUsage;
  if (!st.global.tls_server_name.empty()) st.global.tls.enabled = true;
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeChannelCredentials(st.global.tls);
  if (!credentials.ok()) {
    std::cerr << "error: " << credentials.status().message() << "\n";
    return kExitUsage;
  }
  st.global.credentials = *std::move(credentials);
  absl::Status status = st.action();
  if (!status.ok()) {
    std::cout.flush();
    std::cerr << FormatError(status) << "\n";
    return ExitCodeFor(status);
  }
  return kExitOk;
}

}  // namespace llmproxy::cli
