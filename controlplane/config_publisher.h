#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "controlplane/metrics.h"
#include "controlplane/store/store.h"

namespace llmproxy::controlplane {

// Knows the newest config revision and wakes the config streams when it
// moves, so every data plane converges on the newest state.
//
// Two sources of news: the admin service calls NotifyRevision() after each
// mutation it makes (instant), and a background poll of Store::GetRevision()
// catches changes made through other control-plane replicas. Waiters read the
// newest state when they wake, which coalesces a burst of changes into one
// push.
//
// It also keeps the fleet seen by this replica (open config streams per node)
// and whether the store answered its last poll (for /readyz).
class ConfigPublisher {
 public:
  // What a waiter last saw; compare with Current() to know what changed.
  struct Version {
    int64_t revision = 0;
    // Bumped whenever a config stream opens or closes: fleet_size changed.
    int64_t fleet_epoch = 0;
    bool operator==(const Version&) const = default;
  };

  ConfigPublisher(Store& store, std::chrono::milliseconds poll_interval,
                  ControlPlaneMetrics& metrics);
  ~ConfigPublisher();

  ConfigPublisher(const ConfigPublisher&) = delete;
  ConfigPublisher& operator=(const ConfigPublisher&) = delete;

  // Reads the revision once and starts the poll thread.
  void Start();
  // Stops polling and wakes every waiter for good (server shutdown).
  void Stop();
  bool stopped() const;

  // A mutation produced `revision` (its etag, or a delete's revision).
  void NotifyRevision(int64_t revision);

  Version Current() const;

  // Blocks until Current() differs from `seen`, Stop() is called or `timeout`
  // passes; returns Current().
  Version WaitForChange(const Version& seen,
                        std::chrono::milliseconds timeout) const;

  // Whether the last poll of the store succeeded.
  bool store_reachable() const { return store_reachable_.load(); }

  // A config stream of `node_id` opened / closed. A node may hold several
  // streams for a short while (reconnect before the old one is noticed dead).
  void StreamOpened(const std::string& node_id);
  void StreamClosed(const std::string& node_id);
  bool IsConnected(const std::string& node_id) const;
  // Number of distinct nodes with an open stream.
  int fleet_size() const;

 private:
  void PollLoop();
  void PollOnce();

  Store& store_;
  const std::chrono::milliseconds poll_interval_;
  ControlPlaneMetrics& metrics_;

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  Version version_;
  bool stopped_ = false;
  std::map<std::string, int> streams_per_node_;

  std::atomic<bool> store_reachable_{false};
  std::thread poller_;
};

}  // namespace llmproxy::controlplane
