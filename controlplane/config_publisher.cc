#include "controlplane/config_publisher.h"

#include <string>
#include <utility>

#include "common/log.h"

namespace llmproxy::controlplane {

ConfigPublisher::ConfigPublisher(Store& store,
                                 std::chrono::milliseconds poll_interval,
                                 ControlPlaneMetrics& metrics)
    : store_(store), poll_interval_(poll_interval), metrics_(metrics) {}

ConfigPublisher::~ConfigPublisher() { Stop(); }

void ConfigPublisher::Start() {
  PollOnce();
  poller_ = std::thread([this] { PollLoop(); });
}

void ConfigPublisher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  changed_.notify_all();
  if (poller_.joinable()) poller_.join();
}

bool ConfigPublisher::stopped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopped_;
}

void ConfigPublisher::NotifyRevision(int64_t revision) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (revision <= version_.revision) return;
    version_.revision = revision;
    metrics_.config_revision.Set(static_cast<double>(revision));
  }
  changed_.notify_all();
}

ConfigPublisher::Version ConfigPublisher::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return version_;
}

ConfigPublisher::Version ConfigPublisher::WaitForChange(
    const Version& seen, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_for(lock, timeout,
                    [&] { return stopped_ || !(version_ == seen); });
  return version_;
}

void ConfigPublisher::StreamOpened(const std::string& node_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (streams_per_node_[node_id]++ == 0) ++version_.fleet_epoch;
    metrics_.dataplanes_connected.Set(
        static_cast<double>(streams_per_node_.size()));
  }
  changed_.notify_all();
}

void ConfigPublisher::StreamClosed(const std::string& node_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_per_node_.find(node_id);
    if (it == streams_per_node_.end()) return;
    if (--it->second > 0) return;
    streams_per_node_.erase(it);
    ++version_.fleet_epoch;
    metrics_.dataplanes_connected.Set(
        static_cast<double>(streams_per_node_.size()));
  }
  changed_.notify_all();
}

bool ConfigPublisher::IsConnected(const std::string& node_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_per_node_.contains(node_id);
}

int ConfigPublisher::fleet_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(streams_per_node_.size());
}

void ConfigPublisher::PollLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopped_) {
    changed_.wait_for(lock, poll_interval_, [&] { return stopped_; });
    if (stopped_) break;
    lock.unlock();
    PollOnce();
    lock.lock();
  }
}

void ConfigPublisher::PollOnce() {
  absl::StatusOr<int64_t> revision = store_.GetRevision();
  bool was_reachable = store_reachable_.exchange(revision.ok());
  metrics_.store_up.Set(revision.ok() ? 1 : 0);
  if (!revision.ok()) {
    if (was_reachable) {
      log::Warn("store unreachable", {{"error", revision.status().ToString()}});
    }
    return;
  }
  if (!was_reachable) log::Info("store reachable");
  NotifyRevision(*revision);
}

}  // namespace llmproxy::controlplane
