#pragma once

#include "controlplane/admin_auth.h"
#include "controlplane/metrics.h"
#include "controlplane/store/store.h"
#include "llmproxy/v1/usage_service.grpc.pb.h"

namespace llmproxy::controlplane {

// UsageService: data planes stream batches of usage records, stored
// idempotently (request_id is the key) and acked only once durable; admins
// query aggregates.
class UsageServiceImpl final : public v1::UsageService::Service {
 public:
  UsageServiceImpl(Store& store, const TokenAuthenticator& auth,
                   ControlPlaneMetrics& metrics);

  grpc::Status ReportUsage(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::ReportUsageResponse, v1::ReportUsageRequest>*
          stream) override;
  grpc::Status QueryUsage(grpc::ServerContext* context,
                          const v1::QueryUsageRequest* request,
                          v1::QueryUsageResponse* response) override;

 private:
  Store& store_;
  const TokenAuthenticator& auth_;
  ControlPlaneMetrics& metrics_;
};

}  // namespace llmproxy::controlplane
