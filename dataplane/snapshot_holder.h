#pragma once

#include <atomic>
#include <memory>
#include <utility>

#include "dataplane/config_snapshot.h"

namespace llmproxy::dataplane {

// The current config, swapped atomically by the config subscriber and read
// by every request: a request calls Get() once at its start and keeps the
// returned reference to its end, so a swap never changes a request midway.
class SnapshotHolder {
 public:
  ConfigSnapshotPtr Get() const {
    return current_.load(std::memory_order_acquire);
  }
  void Set(ConfigSnapshotPtr snapshot) {
    current_.store(std::move(snapshot), std::memory_order_release);
  }
  bool loaded() const { return Get() != nullptr; }

 private:
  std::atomic<ConfigSnapshotPtr> current_;
};

}  // namespace llmproxy::dataplane
