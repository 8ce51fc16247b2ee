#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace llmproxy::dataplane {

// An append-only file of usage records waiting to be acknowledged by the
// control plane, so no record is lost while it is unreachable or while the
// data plane restarts.
//
// <path> holds records framed as [uint32 little-endian length][serialized
// llmproxy.v1.UsageRecord]; <path>.ack holds the byte offset of the first
// record not yet acknowledged (replaced atomically by rename). Once every
// record is acknowledged the file is truncated. Used by one thread.
class UsageSpool {
 public:
  // Opens or creates the spool; a torn record at the end (a crash mid-write)
  // is cut off. max_bytes bounds the file.
  static absl::StatusOr<std::unique_ptr<UsageSpool>> Open(
      const std::string& path, int64_t max_bytes);
  ~UsageSpool();

  // Appends all of `records` (serialized UsageRecords), or none
  // (RESOURCE_EXHAUSTED) when the file would grow past max_bytes.
  absl::Status Append(const std::vector<std::string>& records);

  struct Batch {
    // Serialized UsageRecords, oldest first, as they were appended: they go
    // to the control plane as they are (EncodeReportUsageRequest).
    std::vector<std::string> records;
    // Offset just past the last record read; pass it to Ack.
    int64_t end_offset = 0;
  };
  // Up to `max_records` records starting at the first unacknowledged one.
  absl::StatusOr<Batch> ReadUnacked(int max_records);

  // Marks everything before end_offset acknowledged.
  absl::Status Ack(int64_t end_offset);

  int64_t size_bytes() const { return size_; }
  int64_t acked_offset() const { return acked_; }
  bool has_unacked() const { return acked_ < size_; }

 private:
  UsageSpool(std::string path, int fd, int64_t max_bytes, int64_t size,
             int64_t acked);
  absl::Status WriteAckFile(int64_t offset);

  const std::string path_;
  const int fd_;
  const int64_t max_bytes_;
  int64_t size_;
  int64_t acked_;
};

}  // namespace llmproxy::dataplane
