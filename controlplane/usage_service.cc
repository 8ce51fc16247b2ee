#include "controlplane/usage_service.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "controlplane/grpc_status.h"
#include "controlplane/validation.h"

namespace llmproxy::controlplane {

UsageServiceImpl::UsageServiceImpl(Store& store, const TokenAuthenticator& auth,
                                   ControlPlaneMetrics& metrics)
    : store_(store), auth_(auth), metrics_(metrics) {}

grpc::Status UsageServiceImpl::ReportUsage(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::ReportUsageResponse, v1::ReportUsageRequest>*
        stream) {
  if (grpc::Status s = auth_.CheckDataPlane(*context); !s.ok()) return s;
  v1::ReportUsageRequest batch;
  while (stream->Read(&batch)) {
    if (absl::Status s = validation::ValidateUsageBatch(batch); !s.ok()) {
      return ToGrpcStatus(s);
    }
    std::vector<v1::UsageRecord> records(batch.records().begin(),
                                         batch.records().end());
    // A record that does not name its data plane was served by the sender.
    for (v1::UsageRecord& record : records) {
      if (record.dataplane_id().empty()) {
        record.set_dataplane_id(batch.dataplane_id());
      }
    }
    absl::StatusOr<UsageInsertResult> stored = store_.InsertUsage(records);
    if (!stored.ok()) {
      // Not acked: the data plane keeps the batch spooled and sends it again
      // on its next stream.
      log::Warn("cannot store usage batch",
                {{"dataplane_id", batch.dataplane_id()},
                 {"batch_id", absl::StrCat(batch.batch_id())},
                 {"error", stored.status().ToString()}});
      return ToGrpcStatus(stored.status());
    }
    metrics_.usage_records_accepted.Increment(stored->accepted);
    metrics_.usage_records_duplicate.Increment(stored->duplicates);
    v1::ReportUsageResponse ack;
    ack.set_batch_id(batch.batch_id());
    ack.set_accepted(stored->accepted);
    ack.set_duplicates(stored->duplicates);
    if (!stream->Write(ack)) break;
  }
  return grpc::Status::OK;
}

grpc::Status UsageServiceImpl::QueryUsage(grpc::ServerContext* context,
                                          const v1::QueryUsageRequest* request,
                                          v1::QueryUsageResponse* response) {
  if (grpc::Status s = auth_.CheckAdmin(*context); !s.ok()) return s;
  if (absl::Status s = validation::ValidateQueryUsage(*request); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::QueryUsageResponse> result = store_.QueryUsage(*request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace llmproxy::controlplane
