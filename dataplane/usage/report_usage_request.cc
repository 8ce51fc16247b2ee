#include "dataplane/usage/report_usage_request.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "llmproxy/v1/usage_service.pb.h"

namespace llmproxy::dataplane {
namespace {

namespace pbio = google::protobuf::io;
using Request = llmproxy::v1::ReportUsageRequest;

constexpr uint32_t kVarint = 0;
constexpr uint32_t kLengthDelimited = 2;

constexpr uint32_t Tag(int field, uint32_t wire_type) {
  return static_cast<uint32_t>(field) << 3 | wire_type;
}

void WriteLengthDelimited(pbio::CodedOutputStream& out, int field,
                          std::string_view bytes) {
  out.WriteTag(Tag(field, kLengthDelimited));
  out.WriteVarint32(static_cast<uint32_t>(bytes.size()));
  out.WriteRaw(bytes.data(), static_cast<int>(bytes.size()));
}

}  // namespace

std::string EncodeReportUsageRequest(uint64_t batch_id,
                                     std::string_view dataplane_id,
                                     const std::vector<std::string>& records) {
  std::size_t size = 32 + dataplane_id.size();
  for (const std::string& record : records) size += record.size() + 8;
  std::string out;
  out.reserve(size);
  {
    pbio::StringOutputStream stream(&out);
    pbio::CodedOutputStream coded(&stream);
    coded.WriteTag(Tag(Request::kBatchIdFieldNumber, kVarint));
    coded.WriteVarint64(batch_id);
    WriteLengthDelimited(coded, Request::kDataplaneIdFieldNumber, dataplane_id);
    for (const std::string& record : records) {
      WriteLengthDelimited(coded, Request::kRecordsFieldNumber, record);
    }
  }  // The coded stream flushes into `out` when it goes.
  return out;
}

}  // namespace llmproxy::dataplane
