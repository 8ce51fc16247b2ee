#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/crypto/secret_box.h"
#include "llmproxy/v1/config_service.pb.h"

namespace llmproxy::dataplane {

// The last applied config on disk, so a restarted data plane serves while the
// control plane is unreachable. The file holds the serialized snapshot sealed
// with SecretBox: provider keys never touch the disk in plain text.
class SnapshotFile {
 public:
  SnapshotFile(std::string path, SecretBox box)
      : path_(std::move(path)), box_(std::move(box)) {}

  // Writes atomically (temp file in the same folder, fsync, rename), mode
  // 0600, creating the folder if needed.
  absl::Status Save(const v1::ConfigSnapshot& snapshot) const;

  // NOT_FOUND when there is no file; DATA_LOSS when it cannot be opened with
  // this key or does not parse.
  absl::StatusOr<v1::ConfigSnapshot> Load() const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  SecretBox box_;
};

// The SecretBox for the snapshot: from `material` when given, else from the
// key file `key_path`, generated (32 random bytes, hex, mode 0600) when it
// does not exist yet.
absl::StatusOr<SecretBox> LoadOrCreateSnapshotKey(const std::string& material,
                                                  const std::string& key_path);

}  // namespace llmproxy::dataplane
