#pragma once

#include "common/crypto/secret_box.h"
#include "controlplane/admin_auth.h"
#include "controlplane/config_publisher.h"
#include "controlplane/store/store.h"
#include "llmproxy/v1/admin_service.grpc.pb.h"

namespace llmproxy::controlplane {

// AdminService over the Store: authenticates the admin, validates the
// request, seals provider keys / hashes virtual keys on the way in, strips
// secrets on the way out, and tells the ConfigPublisher about every new
// revision so data planes hear of it at once.
//
// Responses never carry Connection.api_key (only api_key_masked) nor
// VirtualKey.key_sha256; VirtualKey.key only in the CreateVirtualKey
// response.
class AdminServiceImpl final : public v1::AdminService::Service {
 public:
  AdminServiceImpl(Store& store, const SecretBox& secret_box,
                   const TokenAuthenticator& auth, ConfigPublisher& publisher);

  grpc::Status CreateConnection(grpc::ServerContext* context,
                                const v1::CreateConnectionRequest* request,
                                v1::Connection* response) override;
  grpc::Status GetConnection(grpc::ServerContext* context,
                             const v1::GetConnectionRequest* request,
                             v1::Connection* response) override;
  grpc::Status ListConnections(grpc::ServerContext* context,
                               const v1::ListConnectionsRequest* request,
                               v1::ListConnectionsResponse* response) override;
  grpc::Status UpdateConnection(grpc::ServerContext* context,
                                const v1::UpdateConnectionRequest* request,
                                v1::Connection* response) override;
  grpc::Status DeleteConnection(
      grpc::ServerContext* context, const v1::DeleteConnectionRequest* request,
      v1::DeleteConnectionResponse* response) override;

  grpc::Status CreateModel(grpc::ServerContext* context,
                           const v1::CreateModelRequest* request,
                           v1::Model* response) override;
  grpc::Status GetModel(grpc::ServerContext* context,
                        const v1::GetModelRequest* request,
                        v1::Model* response) override;
  grpc::Status ListModels(grpc::ServerContext* context,
                          const v1::ListModelsRequest* request,
                          v1::ListModelsResponse* response) override;
  grpc::Status UpdateModel(grpc::ServerContext* context,
                           const v1::UpdateModelRequest* request,
                           v1::Model* response) override;
  grpc::Status DeleteModel(grpc::ServerContext* context,
                           const v1::DeleteModelRequest* request,
                           v1::DeleteModelResponse* response) override;

  grpc::Status CreateVirtualKey(grpc::ServerContext* context,
                                const v1::CreateVirtualKeyRequest* request,
                                v1::VirtualKey* response) override;
  grpc::Status GetVirtualKey(grpc::ServerContext* context,
                             const v1::GetVirtualKeyRequest* request,
                             v1::VirtualKey* response) override;
  grpc::Status ListVirtualKeys(grpc::ServerContext* context,
                               const v1::ListVirtualKeysRequest* request,
                               v1::ListVirtualKeysResponse* response) override;
  grpc::Status UpdateVirtualKey(grpc::ServerContext* context,
                                const v1::UpdateVirtualKeyRequest* request,
                                v1::VirtualKey* response) override;
  grpc::Status DeleteVirtualKey(
      grpc::ServerContext* context, const v1::DeleteVirtualKeyRequest* request,
      v1::DeleteVirtualKeyResponse* response) override;

  grpc::Status CreateAssignment(grpc::ServerContext* context,
                                const v1::CreateAssignmentRequest* request,
                                v1::Assignment* response) override;
  grpc::Status GetAssignment(grpc::ServerContext* context,
                             const v1::GetAssignmentRequest* request,
                             v1::Assignment* response) override;
  grpc::Status ListAssignments(grpc::ServerContext* context,
                               const v1::ListAssignmentsRequest* request,
                               v1::ListAssignmentsResponse* response) override;
  grpc::Status UpdateAssignment(grpc::ServerContext* context,
                                const v1::UpdateAssignmentRequest* request,
                                v1::Assignment* response) override;
  grpc::Status DeleteAssignment(
      grpc::ServerContext* context, const v1::DeleteAssignmentRequest* request,
      v1::DeleteAssignmentResponse* response) override;

  grpc::Status ListDataPlanes(grpc::ServerContext* context,
                              const v1::ListDataPlanesRequest* request,
                              v1::ListDataPlanesResponse* response) override;
  grpc::Status GetConfigRevision(
      grpc::ServerContext* context, const v1::GetConfigRevisionRequest* request,
      v1::GetConfigRevisionResponse* response) override;

 private:
  // Tells the publisher about the revision an etag or delete produced.
  void Published(int64_t revision);
  void Published(const std::string& etag);

  Store& store_;
  const SecretBox& secret_box_;
  const TokenAuthenticator& auth_;
  ConfigPublisher& publisher_;
};

}  // namespace llmproxy::controlplane
