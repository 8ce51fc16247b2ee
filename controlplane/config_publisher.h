#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controlplane/change_listener.h"
#include "controlplane/config_cache.h"
#include "controlplane/dataplane_record.h"
#include "controlplane/metrics.h"
#include "controlplane/store/store.h"

namespace llmproxy::controlplane {

struct PublisherOptions {
  // Fallback poll of the store's revision, for changes made through other
  // control-plane replicas whose notification was missed (and the only
  // mechanism on SQLite).
  std::chrono::milliseconds revision_poll_interval{500};
  // A postgresql:// URL to LISTEN on for other replicas' changes; empty: poll
  // only.
  std::string listen_database_url;
  // How often budget spend and fleet size are recomputed.
  std::chrono::milliseconds budget_refresh_interval{1000};
  // How often the last contact of this replica's connected data planes is
  // refreshed in the store. A data plane counts as connected (fleet size,
  // `dataplanes list`) while its last contact is within 3 heartbeats.
  std::chrono::milliseconds heartbeat_interval{2000};
};

// The fleet-wide figures pushed with the config: each budget's spend in its
// current period and the fleet size.
struct FleetFigures {
  // Bumped whenever spend or fleet size change (or a period rolls over).
  int64_t epoch = 0;
  // The config revision whose budget owners these figures cover.
  int64_t config_revision = -1;
  std::vector<v1::BudgetSpend> budget_spend;
  int fleet_size = 1;
};
using FleetFiguresPtr = std::shared_ptr<const FleetFigures>;

// Knows the newest config revision and fleet figures, and wakes the config
// streams when either moves, so every data plane converges on the newest
// state.
//
// Sources of news about the revision: the admin service calls
// NotifyRevision() after each mutation it makes (instant); on PostgreSQL a
// LISTEN connection hears every replica's commits (milliseconds); a poll of
// Store::GetRevision() every revision_poll_interval catches anything missed.
// Waiters read the newest state when they wake, which coalesces a burst of
// changes into one push.
//
// A refresher thread recomputes the fleet figures every
// budget_refresh_interval (and at once when a stream opens or closes) and
// refreshes the last contact of this replica's streams every
// heartbeat_interval.
//
// Budget overshoot across N data planes (why fleet budgets hold only
// approximately). With the figures of one refresh, each data plane admits
// spend up to its share of what was left: (budget - S) / fleet_size, where S
// is the spend stored when the figures were computed. Together the N data
// planes therefore admit at most budget - S in the window until the next
// figures arrive, provided two things hold: fleet_size is right and S is all
// the spend there is. Neither is quite true, which gives the worst case:
//   1. Unreported spend U: requests in flight and usage records still queued
//      or spooled in the data planes (the usage reporter batches them) are not
//      in S. The next figures hand each data plane a fresh share of a
//      remainder that still counts U as available, so the fleet can spend U
//      twice. U is at most what N data planes spend in one refresh window
//      (budget_refresh_interval + the usage report delay, ~1-2 s), plus their
//      in-flight reservations.
//   2. Fleet growth: k data planes that join between two refreshes each get a
//      share computed with the old fleet size N (they count once their
//      heartbeat lands): up to (k / N) x (budget - S) more, for one window.
// Worst case overshoot = U + (k / N) x (budget - S); with a stable fleet it is
// U, the spend of about one refresh window of traffic.
class ConfigPublisher {
 public:
  // What a waiter last saw; compare with Current() to know what changed.
  struct Version {
    int64_t revision = 0;
    // FleetFigures::epoch.
    int64_t figures_epoch = 0;
    bool operator==(const Version&) const = default;
  };

  ConfigPublisher(Store& store, ConfigCache& cache, PublisherOptions options,
                  ControlPlaneMetrics& metrics);
  ~ConfigPublisher();

  ConfigPublisher(const ConfigPublisher&) = delete;
  ConfigPublisher& operator=(const ConfigPublisher&) = delete;

  // Reads the revision once and starts the poll, listener and refresher
  // threads.
  void Start();
  // Stops the threads and wakes every waiter for good (server shutdown).
  void Stop();
  bool stopped() const;

  // A mutation produced `revision` (its etag, or a delete's revision).
  void NotifyRevision(int64_t revision);

  Version Current() const;

  // Blocks until Current() differs from `seen`, Stop() is called or `timeout`
  // passes; returns Current().
  Version WaitForChange(const Version& seen,
                        std::chrono::milliseconds timeout) const;

  // The newest fleet figures (null before the first computation).
  FleetFiguresPtr Figures() const;
  // Figures that cover the budget owners of `config`: the newest ones when
  // they do, else computed now.
  absl::StatusOr<FleetFiguresPtr> FiguresFor(const PublishedConfig& config);

  // Whether the last poll of the store succeeded.
  bool store_reachable() const { return store_reachable_.load(); }

  // A config stream opened / closed. A node may hold several streams for a
  // short while (reconnect before the old one is noticed dead). StreamClosed
  // returns whether it was the node's last stream on this replica.
  void StreamOpened(std::shared_ptr<DataPlaneRecord> record);
  bool StreamClosed(const std::shared_ptr<DataPlaneRecord>& record);
  // Whether `node_id` has a config stream open on this replica.
  bool IsConnectedHere(const std::string& node_id) const;
  // Whether a data plane of the store's fleet status is connected to any
  // replica: open here, or marked connected with a last contact within three
  // heartbeats (each replica refreshes its streams' last contact).
  bool IsConnected(const v1::DataPlane& plane, absl::Time now) const;

 private:
  void PollLoop();
  void PollOnce();
  void RefreshLoop();
  void Heartbeat();
  // Recomputes the figures for `config`; publishes them (new epoch) when
  // they changed.
  absl::StatusOr<FleetFiguresPtr> Refresh(const PublishedConfig& config);
  int CountFleet(absl::Time now);

  Store& store_;
  ConfigCache& cache_;
  const PublisherOptions options_;
  ControlPlaneMetrics& metrics_;

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  Version version_;
  bool stopped_ = false;
  bool refresh_requested_ = false;
  FleetFiguresPtr figures_;
  std::map<std::string, std::vector<std::shared_ptr<DataPlaneRecord>>> streams_;

  std::mutex refresh_mu_;  // One figures computation at a time.

  std::atomic<bool> store_reachable_{false};
  std::unique_ptr<ChangeListener> listener_;
  std::thread poller_;
  std::thread refresher_;
};

}  // namespace llmproxy::controlplane
