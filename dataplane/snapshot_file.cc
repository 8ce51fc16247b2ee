#include "dataplane/snapshot_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "common/crypto/random.h"
#include "common/log.h"

namespace llmproxy::dataplane {
namespace {

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& content) {
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError("cannot create " + tmp + ": " +
                                  std::strerror(errno));
  }
  std::size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::UnavailableError("cannot write " + tmp + ": " +
                                    std::strerror(err));
    }
    written += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return absl::UnavailableError("cannot rename to " + path + ": " +
                                  std::strerror(err));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("no file " + path);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace

absl::Status SnapshotFile::Save(const v1::ConfigSnapshot& snapshot) const {
  std::string plain;
  if (!snapshot.SerializeToString(&plain)) {
    return absl::InternalError("cannot serialize the snapshot");
  }
  return WriteFileAtomically(path_, box_.Seal(plain) + "\n");
}

absl::StatusOr<v1::ConfigSnapshot> SnapshotFile::Load() const {
  auto sealed = ReadFile(path_);
  if (!sealed.ok()) return sealed.status();
  std::string text = *std::move(sealed);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  auto plain = box_.Open(text);
  if (!plain.ok()) {
    return absl::DataLossError("snapshot file " + path_ +
                               " cannot be opened with this encryption key");
  }
  v1::ConfigSnapshot snapshot;
  if (!snapshot.ParseFromString(*plain)) {
    return absl::DataLossError("snapshot file " + path_ + " does not parse");
  }
  return snapshot;
}

absl::StatusOr<SecretBox> LoadOrCreateSnapshotKey(const std::string& material,
                                                  const std::string& key_path) {
  if (!material.empty()) return SecretBox::FromKeyMaterial(material);
  auto existing = ReadFile(key_path);
  if (existing.ok()) {
    std::string text = *std::move(existing);
    while (!text.empty() &&
           (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
      text.pop_back();
    }
    return SecretBox::FromKeyMaterial(text);
  }
  std::string generated = RandomHex(SecretBox::kKeySize);
  absl::Status written = WriteFileAtomically(key_path, generated + "\n");
  if (!written.ok()) return written;
  log::Warn(
      "generated a snapshot encryption key; set --encryption-key to "
      "manage it yourself",
      {{"key_file", key_path}});
  return SecretBox::FromKeyMaterial(generated);
}

}  // namespace llmproxy::dataplane
