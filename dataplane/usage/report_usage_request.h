#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmproxy::dataplane {

// The wire form of a llmproxy.v1.ReportUsageRequest whose records are given
// already serialized (as the spool holds them). A repeated message field is
// its elements' bytes, each framed as a length-delimited field, so the
// records go out without being parsed and serialized again.
std::string EncodeReportUsageRequest(uint64_t batch_id,
                                     std::string_view dataplane_id,
                                     const std::vector<std::string>& records);

}  // namespace llmproxy::dataplane
