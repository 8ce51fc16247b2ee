#include "controlplane/config_publisher.h"

#include <set>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"

namespace llmproxy::controlplane {
namespace {

bool SameSpend(const std::vector<v1::BudgetSpend>& a,
               const std::vector<v1::BudgetSpend>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].virtual_key_id() != b[i].virtual_key_id() ||
        a[i].assignment_id() != b[i].assignment_id() ||
        a[i].period_start_unix() != b[i].period_start_unix() ||
        a[i].spent_usd() != b[i].spent_usd()) {
      return false;
    }
  }
  return true;
}

}  // namespace

ConfigPublisher::ConfigPublisher(Store& store, ConfigCache& cache,
                                 PublisherOptions options,
                                 ControlPlaneMetrics& metrics)
    : store_(store),
      cache_(cache),
      options_(std::move(options)),
      metrics_(metrics) {}

ConfigPublisher::~ConfigPublisher() { Stop(); }

void ConfigPublisher::Start() {
  PollOnce();
  poller_ = std::thread([this] { PollLoop(); });
  refresher_ = std::thread([this] { RefreshLoop(); });
  if (!options_.listen_database_url.empty()) {
    listener_ = std::make_unique<ChangeListener>(
        options_.listen_database_url,
        [this](int64_t revision) {
          metrics_.config_notifications.Increment();
          NotifyRevision(revision);
        },
        [this] { PollOnce(); });
    listener_->Start();
  }
}

void ConfigPublisher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  changed_.notify_all();
  if (listener_) listener_->Stop();
  if (poller_.joinable()) poller_.join();
  if (refresher_.joinable()) refresher_.join();
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

FleetFiguresPtr ConfigPublisher::Figures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return figures_;
}

absl::StatusOr<FleetFiguresPtr> ConfigPublisher::FiguresFor(
    const PublishedConfig& config) {
  if (FleetFiguresPtr figures = Figures();
      figures && figures->config_revision >= config.revision()) {
    return figures;
  }
  return Refresh(config);
}

absl::StatusOr<FleetFiguresPtr> ConfigPublisher::Refresh(
    const PublishedConfig& config) {
  std::lock_guard<std::mutex> refresh(refresh_mu_);
  const absl::Time now = absl::Now();
  absl::StatusOr<std::vector<v1::BudgetSpend>> spend =
      ComputeBudgetSpend(store_, config.budget_owners, now);
  if (!spend.ok()) return spend.status();
  const int fleet_size = CountFleet(now);
  metrics_.fleet_size.Set(fleet_size);

  std::unique_lock<std::mutex> lock(mu_);
  // A newer config's figures were published meanwhile: keep them.
  if (figures_ && figures_->config_revision > config.revision()) {
    return figures_;
  }
  auto next = std::make_shared<FleetFigures>();
  next->config_revision = config.revision();
  next->budget_spend = *std::move(spend);
  next->fleet_size = fleet_size;
  const bool changed = !figures_ || figures_->fleet_size != fleet_size ||
                       !SameSpend(figures_->budget_spend, next->budget_spend);
  next->epoch = figures_ ? figures_->epoch + (changed ? 1 : 0) : 1;
  figures_ = next;
  if (changed) {
    version_.figures_epoch = next->epoch;
    lock.unlock();
    changed_.notify_all();
  }
  return next;
}

int ConfigPublisher::CountFleet(absl::Time now) {
  std::set<std::string> nodes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [node_id, _] : streams_) nodes.insert(node_id);
  }
  absl::StatusOr<std::vector<v1::DataPlane>> planes = store_.ListDataPlanes();
  if (planes.ok()) {
    for (const v1::DataPlane& plane : *planes) {
      if (IsConnected(plane, now)) nodes.insert(plane.node_id());
    }
  }
  return std::max<int>(1, static_cast<int>(nodes.size()));
}

void ConfigPublisher::StreamOpened(std::shared_ptr<DataPlaneRecord> record) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    streams_[record->node_id()].push_back(std::move(record));
    metrics_.dataplanes_connected.Set(static_cast<double>(streams_.size()));
    refresh_requested_ = true;
  }
  changed_.notify_all();
}

bool ConfigPublisher::StreamClosed(
    const std::shared_ptr<DataPlaneRecord>& record) {
  bool last = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(record->node_id());
    if (it == streams_.end()) return false;
    std::erase(it->second, record);
    if (it->second.empty()) {
      streams_.erase(it);
      last = true;
    }
    metrics_.dataplanes_connected.Set(static_cast<double>(streams_.size()));
    refresh_requested_ = true;
  }
  changed_.notify_all();
  return last;
}

bool ConfigPublisher::IsConnectedHere(const std::string& node_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_.contains(node_id);
}

bool ConfigPublisher::IsConnected(const v1::DataPlane& plane,
                                  absl::Time now) const {
  if (IsConnectedHere(plane.node_id())) return true;
  if (!plane.connected()) return false;
  absl::Time last_contact = absl::FromUnixMillis(
      google::protobuf::util::TimeUtil::TimestampToMilliseconds(
          plane.last_contact_time()));
  return now - last_contact <=
         absl::FromChrono(options_.heartbeat_interval * 3);
}

void ConfigPublisher::PollLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopped_) {
    changed_.wait_for(lock, options_.revision_poll_interval,
                      [&] { return stopped_; });
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

void ConfigPublisher::RefreshLoop() {
  auto next_heartbeat =
      std::chrono::steady_clock::now() + options_.heartbeat_interval;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopped_) {
    changed_.wait_for(lock, options_.budget_refresh_interval,
                      [&] { return stopped_ || refresh_requested_; });
    if (stopped_) break;
    refresh_requested_ = false;
    const bool has_streams = !streams_.empty();
    const int64_t revision = version_.revision;
    lock.unlock();
    if (std::chrono::steady_clock::now() >= next_heartbeat) {
      next_heartbeat =
          std::chrono::steady_clock::now() + options_.heartbeat_interval;
      Heartbeat();
    }
    // Figures only matter to streams; a replica without any stays idle.
    if (has_streams) {
      absl::StatusOr<PublishedConfigPtr> config = cache_.Get(revision);
      if (config.ok()) {
        if (absl::StatusOr<FleetFiguresPtr> figures = Refresh(**config);
            !figures.ok()) {
          log::Warn("cannot compute budget spend",
                    {{"error", figures.status().ToString()}});
        }
      } else {
        log::Warn("cannot build config",
                  {{"error", config.status().ToString()}});
      }
    }
    lock.lock();
  }
}

void ConfigPublisher::Heartbeat() {
  std::vector<std::shared_ptr<DataPlaneRecord>> records;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [_, list] : streams_) {
      records.insert(records.end(), list.begin(), list.end());
    }
  }
  for (const auto& record : records) record->Touch();
}

}  // namespace llmproxy::controlplane
