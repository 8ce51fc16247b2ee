#include "dataplane/usage/usage_spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/status/status.h"

namespace llmproxy::dataplane {
namespace {

constexpr int kHeaderSize = 4;
// A record never comes near this; a bigger length means a corrupt file.
constexpr uint32_t kMaxRecordSize = 1 << 20;
// What ReadUnacked reads at once (a bigger record is read whole).
constexpr std::size_t kReadChunk = 256 * 1024;

absl::Status ErrnoError(const std::string& what) {
  return absl::InternalError(what + ": " + std::strerror(errno));
}

bool ReadFully(int fd, char* out, std::size_t n, int64_t offset) {
  while (n > 0) {
    ssize_t got = ::pread(fd, out, n, offset);
    if (got <= 0) return false;
    out += got;
    n -= static_cast<std::size_t>(got);
    offset += got;
  }
  return true;
}

uint32_t DecodeLength(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | uint32_t{u[1]} << 8 | uint32_t{u[2]} << 16 |
         uint32_t{u[3]} << 24;
}

// Offset just past the last whole, parseable record.
int64_t ScanWholeRecords(int fd, int64_t file_size) {
  int64_t offset = 0;
  char header[kHeaderSize];
  while (offset + kHeaderSize <= file_size) {
    if (!ReadFully(fd, header, kHeaderSize, offset)) break;
    uint32_t len = DecodeLength(header);
    if (len > kMaxRecordSize || offset + kHeaderSize + len > file_size) break;
    offset += kHeaderSize + len;
  }
  return offset;
}

}  // namespace

absl::StatusOr<std::unique_ptr<UsageSpool>> UsageSpool::Open(
    const std::string& path, int64_t max_bytes) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("cannot open usage spool " + path);
  off_t file_size = ::lseek(fd, 0, SEEK_END);
  int64_t size = ScanWholeRecords(fd, file_size);
  if (size != file_size && ::ftruncate(fd, size) != 0) {
    ::close(fd);
    return ErrnoError("cannot repair usage spool " + path);
  }
  int64_t acked = 0;
  std::ifstream ack_file(path + ".ack");
  if (ack_file >> acked) {
    if (acked < 0 || acked > size) acked = 0;  // stale cursor: resend all
  }
  return std::unique_ptr<UsageSpool>(
      new UsageSpool(path, fd, max_bytes, size, acked));
}

UsageSpool::UsageSpool(std::string path, int fd, int64_t max_bytes,
                       int64_t size, int64_t acked)
    : path_(std::move(path)),
      fd_(fd),
      max_bytes_(max_bytes),
      size_(size),
      acked_(acked) {}

UsageSpool::~UsageSpool() { ::close(fd_); }

absl::Status UsageSpool::Append(const std::vector<std::string>& records) {
  std::size_t total = 0;
  for (const std::string& record : records)
    total += kHeaderSize + record.size();
  std::string buf;
  buf.reserve(total);
  for (const std::string& record : records) {
    const auto len = static_cast<uint32_t>(record.size());
    for (int i = 0; i < kHeaderSize; ++i) {
      buf.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
    }
    buf += record;
  }
  if (size_ + static_cast<int64_t>(buf.size()) > max_bytes_) {
    return absl::ResourceExhaustedError("usage spool is full");
  }
  const char* p = buf.data();
  std::size_t left = buf.size();
  int64_t offset = size_;
  while (left > 0) {
    ssize_t wrote = ::pwrite(fd_, p, left, offset);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      // Cut off whatever part was written so the file stays whole records.
      (void)::ftruncate(fd_, size_);
      return ErrnoError("cannot write usage spool");
    }
    p += wrote;
    left -= static_cast<std::size_t>(wrote);
    offset += wrote;
  }
  // Records are billing data: on disk before they count as spooled.
  if (::fdatasync(fd_) != 0) return ErrnoError("cannot sync usage spool");
  size_ = offset;
  return absl::OkStatus();
}

absl::StatusOr<UsageSpool::Batch> UsageSpool::ReadUnacked(int max_records) {
  Batch batch;
  int64_t offset = acked_;
  // Many records per read: one pread for a whole batch, not two per record.
  std::size_t chunk_size = kReadChunk;
  std::string chunk;
  while (offset < size_ &&
         static_cast<int>(batch.records.size()) < max_records) {
    const auto want =
        static_cast<std::size_t>(std::min<int64_t>(size_ - offset, chunk_size));
    chunk.resize(want);
    if (!ReadFully(fd_, chunk.data(), want, offset)) {
      return ErrnoError("cannot read usage spool");
    }
    std::size_t at = 0;
    while (static_cast<int>(batch.records.size()) < max_records &&
           at + kHeaderSize <= chunk.size()) {
      const uint32_t len = DecodeLength(chunk.data() + at);
      if (len > kMaxRecordSize) {
        return absl::DataLossError("corrupt record in usage spool");
      }
      if (at + kHeaderSize + len > chunk.size()) {
        // Cut by the end of the chunk: the next read starts here and holds
        // it whole.
        chunk_size = std::max<std::size_t>(chunk_size, kHeaderSize + len);
        break;
      }
      batch.records.emplace_back(chunk, at + kHeaderSize, len);
      at += kHeaderSize + len;
    }
    if (at == 0 && want == static_cast<std::size_t>(size_ - offset)) {
      // All that is left is not one whole record: Open checked otherwise.
      return absl::DataLossError("corrupt record in usage spool");
    }
    offset += static_cast<int64_t>(at);
  }
  batch.end_offset = offset;
  return batch;
}

absl::Status UsageSpool::Ack(int64_t end_offset) {
  if (end_offset >= size_) {
    // Everything delivered: start the file over.
    if (::ftruncate(fd_, 0) != 0) return ErrnoError("cannot truncate spool");
    size_ = 0;
    acked_ = 0;
  } else {
    acked_ = end_offset;
  }
  return WriteAckFile(acked_);
}

absl::Status UsageSpool::WriteAckFile(int64_t offset) {
  std::string tmp = path_ + ".ack.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << offset << '\n';
    if (!out.flush()) return absl::InternalError("cannot write spool cursor");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path_ + ".ack", ec);
  if (ec) return absl::InternalError("cannot replace spool cursor");
  return absl::OkStatus();
}

}  // namespace llmproxy::dataplane
