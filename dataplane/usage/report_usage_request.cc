#include "dataplane/usage/report_usage_request.h"

#include "dataplane/usage/proto_writer.h"
#include "llmproxy/v1/usage_service.pb.h"

namespace llmproxy::dataplane {

std::string EncodeReportUsageRequest(uint64_t batch_id,
                                     std::string_view dataplane_id,
                                     const std::vector<std::string>& records) {
  using Request = llmproxy::v1::ReportUsageRequest;
  std::size_t size = 32 + dataplane_id.size();
  for (const std::string& record : records) size += record.size() + 8;
  std::string out;
  ProtoWriter w(out, size);
  w.Uint64(Request::kBatchIdFieldNumber, batch_id);
  w.String(Request::kDataplaneIdFieldNumber, dataplane_id);
  for (const std::string& record : records) {
    w.Bytes(Request::kRecordsFieldNumber, record);
  }
  w.Finish();
  return out;
}

}  // namespace llmproxy::dataplane
