#include "controlplane/admin_service.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "common/crypto/random.h"
#include "common/crypto/sha256.h"
#include "common/secret_mask.h"
#include "controlplane/grpc_status.h"
#include "controlplane/validation.h"

namespace llmproxy::controlplane {
namespace {

using google::protobuf::FieldMask;
namespace val = validation;

// Updatable fields per resource; everything else is output only, or input
// only on create (VirtualKey.key), or identity (Assignment target).
constexpr std::initializer_list<absl::string_view> kConnectionFields = {
    "name",   "provider",      "endpoint",   "api_key", "api_version",
    "region", "extra_headers", "timeout_ms", "enabled"};
constexpr std::initializer_list<absl::string_view> kModelFields = {
    "name",
    "remote_model",
    "connection_id",
    "input_price_per_million",
    "output_price_per_million",
    "enabled",
    "weight",
    "priority"};
constexpr std::initializer_list<absl::string_view> kVirtualKeyFields = {
    "name", "enabled", "expire_time", "metadata", "limits"};
constexpr std::initializer_list<absl::string_view> kAssignmentFields = {
    "limits"};
constexpr std::initializer_list<absl::string_view> kLimitsParent = {"limits"};
constexpr std::initializer_list<absl::string_view> kNoParents = {};

constexpr absl::string_view kGeneratedKeyPrefix = "sk-lp-";
constexpr std::size_t kGeneratedKeyRandomChars = 48;
constexpr std::size_t kKeyPrefixChars = 10;

grpc::Status Invalid(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

grpc::Status StaleEtag(absl::string_view field, const std::string& current) {
  return grpc::Status(
      grpc::StatusCode::ABORTED,
      absl::StrCat(field, " does not match the current etag ", current,
                   "; read the resource again and retry"));
}

bool MaskHas(const FieldMask& mask, absl::string_view path) {
  return std::find(mask.paths().begin(), mask.paths().end(), path) !=
         mask.paths().end();
}

void RemovePath(FieldMask& mask, absl::string_view path) {
  auto* paths = mask.mutable_paths();
  paths->erase(std::remove(paths->begin(), paths->end(), path), paths->end());
}

// The fields an admin may see: the provider key only masked.
v1::Connection PublicConnection(v1::Connection connection) {
  connection.clear_api_key();
  return connection;
}

// The fields an admin may see: neither the key nor its hash.
v1::VirtualKey PublicVirtualKey(v1::VirtualKey key) {
  key.clear_key();
  key.clear_key_sha256();
  return key;
}

// Seals the plain provider key in `connection` for storage.
void SealApiKey(const SecretBox& box, v1::Connection& connection) {
  connection.set_api_key_masked(MaskSecret(connection.api_key()));
  connection.set_api_key(box.Seal(connection.api_key()));
}

}  // namespace

AdminServiceImpl::AdminServiceImpl(Store& store, const SecretBox& secret_box,
                                   const TokenAuthenticator& auth,
                                   ConfigPublisher& publisher)
    : store_(store),
      secret_box_(secret_box),
      auth_(auth),
      publisher_(publisher) {}

void AdminServiceImpl::Published(int64_t revision) {
  publisher_.NotifyRevision(revision);
}

void AdminServiceImpl::Published(const std::string& etag) {
  int64_t revision = 0;
  if (absl::SimpleAtoi(etag, &revision)) publisher_.NotifyRevision(revision);
}

// ---------------------------------------------------------------- Connection

grpc::Status AdminServiceImpl::CreateConnection(
    grpc::ServerContext* context, const v1::CreateConnectionRequest* request,
    v1::Connection* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  v1::Connection connection = request->connection();
  connection.clear_id();
  connection.clear_api_key_masked();
  connection.clear_etag();
  connection.clear_create_time();
  connection.clear_update_time();
  if (!connection.has_enabled()) connection.set_enabled(true);
  if (auto s = val::ValidateConnection(connection, /*api_key_required=*/true);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  SealApiKey(secret_box_, connection);
  absl::StatusOr<v1::Connection> stored = store_.CreateConnection(connection);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  Published(stored->etag());
  *response = PublicConnection(*std::move(stored));
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetConnection(
    grpc::ServerContext* context, const v1::GetConnectionRequest* request,
    v1::Connection* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  if (auto s = val::ValidateId(request->id(), "cn_", "id"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::Connection> stored = store_.GetConnection(request->id());
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  *response = PublicConnection(*std::move(stored));
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ListConnections(
    grpc::ServerContext* context, const v1::ListConnectionsRequest* request,
    v1::ListConnectionsResponse* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  absl::StatusOr<int> size = val::EffectivePageSize(request->page_size());
  if (!size.ok()) return ToGrpcStatus(size.status());
  absl::StatusOr<std::string> after =
      val::ParsePageToken(request->page_token(), "connections");
  if (!after.ok()) return ToGrpcStatus(after.status());
  absl::StatusOr<Page<v1::Connection>> page =
      store_.ListConnections({.after_id = *after, .limit = *size});
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (v1::Connection& connection : page->items) {
    *response->add_connections() = PublicConnection(std::move(connection));
  }
  response->set_next_page_token(
      val::MakePageToken("connections", page->next_after_id));
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::UpdateConnection(
    grpc::ServerContext* context, const v1::UpdateConnectionRequest* request,
    v1::Connection* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  const v1::Connection& update = request->connection();
  if (auto s = val::ValidateId(update.id(), "cn_", "connection.id"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<FieldMask> mask = val::ResolveUpdateMask(
      request->update_mask(), kConnectionFields, kNoParents, "connection");
  if (!mask.ok()) return ToGrpcStatus(mask.status());
  const bool explicit_mask = !request->update_mask().paths().empty();
  if (MaskHas(*mask, "api_key") && update.api_key().empty()) {
    // api_key is write-only, so a client doing a full update cannot send the
    // current one back: no key in a full update means "keep it".
    if (explicit_mask) {
      return Invalid("connection.api_key must not be empty when updated");
    }
    RemovePath(*mask, "api_key");
  }
  if (!explicit_mask && !update.has_enabled()) RemovePath(*mask, "enabled");

  absl::StatusOr<v1::Connection> current = store_.GetConnection(update.id());
  if (!current.ok()) return ToGrpcStatus(current.status());
  if (!update.etag().empty() && update.etag() != current->etag()) {
    return StaleEtag("connection.etag", current->etag());
  }
  v1::Connection merged = *current;
  val::ApplyUpdateMask(update, *mask, &merged);
  const bool new_key = MaskHas(*mask, "api_key");
  // Validate the plain key, never the sealed text the store holds.
  v1::Connection to_validate = merged;
  if (!new_key) to_validate.clear_api_key();
  if (auto s = val::ValidateConnection(to_validate, /*api_key_required=*/false);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (new_key) SealApiKey(secret_box_, merged);
  absl::StatusOr<v1::Connection> stored = store_.UpdateConnection(
      merged, update.etag().empty() ? current->etag() : update.etag());
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  Published(stored->etag());
  *response = PublicConnection(*std::move(stored));
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::DeleteConnection(
    grpc::ServerContext* context, const v1::DeleteConnectionRequest* request,
    v1::DeleteConnectionResponse* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  if (auto s = val::ValidateId(request->id(), "cn_", "id"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<int64_t> revision =
      store_.DeleteConnection(request->id(), request->etag(), request->force());
  if (!revision.ok()) return ToGrpcStatus(revision.status());
  Published(*revision);
  response->set_revision(*revision);
  return grpc::Status::OK;
}

// --------------------------------------------------------------------- Model

grpc::Status AdminServiceImpl::CreateModel(
    grpc::ServerContext* context, const v1::CreateModelRequest* request,
    v1::Model* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  v1::Model model = request->model();
  model.clear_id();
  model.clear_etag();
  model.clear_create_time();
  model.clear_update_time();
  if (!model.has_enabled()) model.set_enabled(true);
  if (auto s = val::ValidateModel(model); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::Model> stored = store_.CreateModel(model);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  Published(stored->etag());
  *response = *std::move(stored);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetModel(grpc::ServerContext* context,
                                        const v1::GetModelRequest* request,
                                        v1::Model* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  if (auto s = val::ValidateId(request->id(), "md_", "id"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::Model> stored = store_.GetModel(request->id());
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  *response = *std::move(stored);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ListModels(grpc::ServerContext* context,
                                          const v1::ListModelsRequest* request,
                                          v1::ListModelsResponse* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  absl::StatusOr<int> size = val::EffectivePageSize(request->page_size());
  if (!size.ok()) return ToGrpcStatus(size.status());
  absl::StatusOr<std::string> after =
      val::ParsePageToken(request->page_token(), "models");
  if (!after.ok()) return ToGrpcStatus(after.status());
  absl::StatusOr<Page<v1::Model>> page =
      store_.ListModels({.after_id = *after, .limit = *size});
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (v1::Model& model : page->items) {
    *response->add_models() = std::move(model);
  }
  response->set_next_page_token(
      val::MakePageToken("models", page->next_after_id));
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::UpdateModel(
    grpc::ServerContext* context, const v1::UpdateModelRequest* request,
    v1::Model* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  const v1::Model& update = request->model();
  if (auto s = val::ValidateId(update.id(), "md_", "model.id"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<FieldMask> mask = val::ResolveUpdateMask(
      request->update_mask(), kModelFields, kNoParents, "model");
  if (!mask.ok()) return ToGrpcStatus(mask.status());
  if (request->update_mask().paths().empty() && !update.has_enabled()) {
    RemovePath(*mask, "enabled");
  }
  absl::StatusOr<v1::Model> current = store_.GetModel(update.id());
  if (!current.ok()) return ToGrpcStatus(current.status());
  if (!update.etag().empty() && update.etag() != current->etag()) {
    return StaleEtag("model.etag", current->etag());
  }
  v1::Model merged = *current;
  val::ApplyUpdateMask(update, *mask, &merged);
  if (auto s = val::ValidateModel(merged); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::Model> stored = store_.UpdateModel(
      merged, update.etag().empty() ? current->etag() : update.etag());
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  Published(stored->etag());
  *response = *std::move(stored);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::DeleteModel(
    grpc::ServerContext* context, const v1::DeleteModelRequest* request,
    v1::DeleteModelResponse* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  if (auto s = val::ValidateId(request->id(), "md_", "id"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<int64_t> revision =
      store_.DeleteModel(request->id(), request->etag(), request->force());
  if (!revision.ok()) return ToGrpcStatus(revision.status());
  Published(*revision);
  response->set_revision(*revision);
  return grpc::Status::OK;
}

// ---------------------------------------------------------------- VirtualKey

grpc::Status AdminServiceImpl::CreateVirtualKey(
    grpc::ServerContext* context, const v1::CreateVirtualKeyRequest* request,
    v1::VirtualKey* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  v1::VirtualKey key = request->virtual_key();
  key.clear_id();
  key.clear_key_prefix();
  key.clear_key_sha256();
  key.clear_etag();
  key.clear_create_time();
  key.clear_update_time();
  if (!key.has_enabled()) key.set_enabled(true);
  if (auto s = val::ValidateVirtualKey(key); !s.ok()) return ToGrpcStatus(s);
  std::string plain =
      key.key().empty()
          ? absl::StrCat(kGeneratedKeyPrefix,
                         RandomAlphanumeric(kGeneratedKeyRandomChars))
          : key.key();
  key.clear_key();
  key.set_key_sha256(Sha256Hex(plain));
  key.set_key_prefix(absl::StrCat(plain.substr(0, kKeyPrefixChars), "…"));
  absl::StatusOr<v1::VirtualKey> stored = store_.CreateVirtualKey(key);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  Published(stored->etag());
  *response = PublicVirtualKey(*std::move(stored));
  // The one and only time the plain key leaves the server.
  response->set_key(std::move(plain));
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetVirtualKey(
    grpc::ServerContext* context, const v1::GetVirtualKeyRequest* request,
    v1::VirtualKey* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  if (auto s = val::ValidateId(request->id(), "vk_", "id"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::VirtualKey> stored = store_.GetVirtualKey(request->id());
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  *response = PublicVirtualKey(*std::move(stored));
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ListVirtualKeys(
    grpc::ServerContext* context, const v1::ListVirtualKeysRequest* request,
    v1::ListVirtualKeysResponse* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  absl::StatusOr<int> size = val::EffectivePageSize(request->page_size());
  if (!size.ok()) return ToGrpcStatus(size.status());
  absl::StatusOr<std::string> after =
      val::ParsePageToken(request->page_token(), "virtual_keys");
  if (!after.ok()) return ToGrpcStatus(after.status());
  absl::StatusOr<Page<v1::VirtualKey>> page =
      store_.ListVirtualKeys({.after_id = *after, .limit = *size});
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (v1::VirtualKey& key : page->items) {
    *response->add_virtual_keys() = PublicVirtualKey(std::move(key));
  }
  response->set_next_page_token(
      val::MakePageToken("virtual_keys", page->next_after_id));
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::UpdateVirtualKey(
    grpc::ServerContext* context, const v1::UpdateVirtualKeyRequest* request,
    v1::VirtualKey* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  const v1::VirtualKey& update = request->virtual_key();
  if (auto s = val::ValidateId(update.id(), "vk_", "virtual_key.id"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<FieldMask> mask = val::ResolveUpdateMask(
      request->update_mask(), kVirtualKeyFields, kLimitsParent, "virtual_key");
  if (!mask.ok()) return ToGrpcStatus(mask.status());
  if (request->update_mask().paths().empty() && !update.has_enabled()) {
    RemovePath(*mask, "enabled");
  }
  absl::StatusOr<v1::VirtualKey> current = store_.GetVirtualKey(update.id());
  if (!current.ok()) return ToGrpcStatus(current.status());
  if (!update.etag().empty() && update.etag() != current->etag()) {
    return StaleEtag("virtual_key.etag", current->etag());
  }
  v1::VirtualKey merged = *current;
  val::ApplyUpdateMask(update, *mask, &merged);
  merged.clear_key();  // Keys are replaced by creating a new virtual key.
  if (auto s = val::ValidateVirtualKey(merged); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::VirtualKey> stored = store_.UpdateVirtualKey(
      merged, update.etag().empty() ? current->etag() : update.etag());
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  Published(stored->etag());
  *response = PublicVirtualKey(*std::move(stored));
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::DeleteVirtualKey(
    grpc::ServerContext* context, const v1::DeleteVirtualKeyRequest* request,
    v1::DeleteVirtualKeyResponse* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  if (auto s = val::ValidateId(request->id(), "vk_", "id"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  // A key's assignments go with it whether or not force is set: they mean
  // nothing without the key.
  absl::StatusOr<int64_t> revision =
      store_.DeleteVirtualKey(request->id(), request->etag());
  if (!revision.ok()) return ToGrpcStatus(revision.status());
  Published(*revision);
  response->set_revision(*revision);
  return grpc::Status::OK;
}

// ---------------------------------------------------------------- Assignment

grpc::Status AdminServiceImpl::CreateAssignment(
    grpc::ServerContext* context, const v1::CreateAssignmentRequest* request,
    v1::Assignment* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  v1::Assignment assignment = request->assignment();
  assignment.clear_id();
  assignment.clear_etag();
  assignment.clear_create_time();
  assignment.clear_update_time();
  if (auto s = val::ValidateAssignment(assignment); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::Assignment> stored = store_.CreateAssignment(assignment);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  Published(stored->etag());
  *response = *std::move(stored);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetAssignment(
    grpc::ServerContext* context, const v1::GetAssignmentRequest* request,
    v1::Assignment* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  if (auto s = val::ValidateId(request->id(), "as_", "id"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::Assignment> stored = store_.GetAssignment(request->id());
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  *response = *std::move(stored);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ListAssignments(
    grpc::ServerContext* context, const v1::ListAssignmentsRequest* request,
    v1::ListAssignmentsResponse* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  absl::StatusOr<int> size = val::EffectivePageSize(request->page_size());
  if (!size.ok()) return ToGrpcStatus(size.status());
  if (!request->virtual_key_id().empty()) {
    if (auto s =
            val::ValidateId(request->virtual_key_id(), "vk_", "virtual_key_id");
        !s.ok()) {
      return ToGrpcStatus(s);
    }
  }
  absl::StatusOr<std::string> after =
      val::ParsePageToken(request->page_token(), "assignments");
  if (!after.ok()) return ToGrpcStatus(after.status());
  absl::StatusOr<Page<v1::Assignment>> page = store_.ListAssignments(
      {.after_id = *after, .limit = *size}, request->virtual_key_id());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (v1::Assignment& assignment : page->items) {
    *response->add_assignments() = std::move(assignment);
  }
  response->set_next_page_token(
      val::MakePageToken("assignments", page->next_after_id));
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::UpdateAssignment(
    grpc::ServerContext* context, const v1::UpdateAssignmentRequest* request,
    v1::Assignment* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  const v1::Assignment& update = request->assignment();
  if (auto s = val::ValidateId(update.id(), "as_", "assignment.id"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<FieldMask> mask = val::ResolveUpdateMask(
      request->update_mask(), kAssignmentFields, kLimitsParent, "assignment");
  if (!mask.ok()) return ToGrpcStatus(mask.status());
  absl::StatusOr<v1::Assignment> current = store_.GetAssignment(update.id());
  if (!current.ok()) return ToGrpcStatus(current.status());
  if (!update.etag().empty() && update.etag() != current->etag()) {
    return StaleEtag("assignment.etag", current->etag());
  }
  v1::Assignment merged = *current;
  val::ApplyUpdateMask(update, *mask, &merged);
  if (auto s = val::ValidateAssignment(merged); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::Assignment> stored = store_.UpdateAssignment(
      merged, update.etag().empty() ? current->etag() : update.etag());
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  Published(stored->etag());
  *response = *std::move(stored);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::DeleteAssignment(
    grpc::ServerContext* context, const v1::DeleteAssignmentRequest* request,
    v1::DeleteAssignmentResponse* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  if (auto s = val::ValidateId(request->id(), "as_", "id"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<int64_t> revision =
      store_.DeleteAssignment(request->id(), request->etag());
  if (!revision.ok()) return ToGrpcStatus(revision.status());
  Published(*revision);
  response->set_revision(*revision);
  return grpc::Status::OK;
}

// --------------------------------------------------------------------- Fleet

grpc::Status AdminServiceImpl::ListDataPlanes(
    grpc::ServerContext* context, const v1::ListDataPlanesRequest* /*request*/,
    v1::ListDataPlanesResponse* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  absl::StatusOr<std::vector<v1::DataPlane>> planes = store_.ListDataPlanes();
  if (!planes.ok()) return ToGrpcStatus(planes.status());
  absl::StatusOr<int64_t> revision = store_.GetRevision();
  if (!revision.ok()) return ToGrpcStatus(revision.status());
  std::sort(planes->begin(), planes->end(),
            [](const v1::DataPlane& a, const v1::DataPlane& b) {
              return a.node_id() < b.node_id();
            });
  const absl::Time now = absl::Now();
  for (v1::DataPlane& plane : *planes) {
    plane.set_connected(publisher_.IsConnected(plane, now));
    *response->add_data_planes() = std::move(plane);
  }
  response->set_current_revision(*revision);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetConfigRevision(
    grpc::ServerContext* context,
    const v1::GetConfigRevisionRequest* /*request*/,
    v1::GetConfigRevisionResponse* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  absl::StatusOr<int64_t> revision = store_.GetRevision();
  if (!revision.ok()) return ToGrpcStatus(revision.status());
  response->set_revision(*revision);
  return grpc::Status::OK;
}

}  // namespace llmproxy::controlplane
