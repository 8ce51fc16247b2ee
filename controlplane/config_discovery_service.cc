#include "controlplane/config_discovery_service.h"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "controlplane/dataplane_record.h"
#include "controlplane/grpc_status.h"

namespace llmproxy::controlplane {
namespace {

constexpr std::size_t kMaxNodeIdLength = 256;
// How long a woken stream waits for more changes before it reads the state:
// a burst of admin calls (a script creating ten models) becomes one push.
constexpr auto kCoalesceDelay = std::chrono::milliseconds(50);
// The least time between two config pushes to one data plane: while changes
// keep coming, each push carries those of the last interval.
constexpr auto kMinConfigInterval = std::chrono::milliseconds(100);
// How often an idle or waiting stream checks that it was cancelled.
constexpr auto kIdleCheck = std::chrono::milliseconds(250);
// A data plane that neither ACKs nor NACKs a push for this long is assumed
// to hold nothing we know of: its next push is a full snapshot.
constexpr auto kAnswerTimeout = std::chrono::seconds(30);

enum class PushKind { kSnapshot, kDelta, kBudget };

const char* KindName(PushKind kind) {
  switch (kind) {
    case PushKind::kSnapshot:
      return "snapshot";
    case PushKind::kDelta:
      return "delta";
    case PushKind::kBudget:
      return "budget";
  }
  return "snapshot";
}

// What the stream knows of the data plane's config; shared between the
// writer (the handler) and the reader thread that receives the answers.
struct PushState {
  std::mutex mu;
  std::condition_variable answered;
  // The revision the data plane holds and deltas can build on; nullopt when
  // it holds nothing or something unknown.
  std::optional<int64_t> held;
  // The newest revision a config push was attempted for (ACKed or not).
  int64_t attempted = -1;
  // The next config push must be a full snapshot.
  bool force_full = false;
  // The push waiting for its answer.
  std::optional<std::pair<int64_t, PushKind>> awaiting;
  bool peer_done = false;
};

// Records an answer of the data plane (called by the reader thread).
void OnAnswer(PushState& state, const v1::StreamConfigRequest& message) {
  std::lock_guard<std::mutex> lock(state.mu);
  if (!state.awaiting) return;
  const auto [revision, kind] = *state.awaiting;
  if (message.response_revision() != revision) return;  // A late answer.
  state.awaiting.reset();
  if (message.error_detail().empty()) {
    state.held = revision;
  } else {
    // It keeps what it had, which it tells us.
    state.held = message.applied_revision() > 0
                     ? std::optional<int64_t>(message.applied_revision())
                     : std::nullopt;
    state.force_full = true;
    // A rejected delta is followed by a full snapshot of the same revision;
    // a rejected snapshot is not sent again (the next revision is tried).
    if (kind != PushKind::kSnapshot) state.attempted = -1;
  }
  state.answered.notify_all();
}

}  // namespace

ConfigDiscoveryServiceImpl::ConfigDiscoveryServiceImpl(
    Store& store, ConfigCache& cache, const TokenAuthenticator& auth,
    ConfigPublisher& publisher, ControlPlaneMetrics& metrics)
    : store_(store),
      cache_(cache),
      auth_(auth),
      publisher_(publisher),
      metrics_(metrics) {}

grpc::Status ConfigDiscoveryServiceImpl::StreamConfig(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::StreamConfigResponse, v1::StreamConfigRequest>*
        stream) {
  if (grpc::Status s = auth_.CheckDataPlane(*context); !s.ok()) return s;
  v1::StreamConfigRequest hello;
  if (!stream->Read(&hello)) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "stream closed");
  }
  if (hello.node_id().empty() || hello.node_id().size() > kMaxNodeIdLength) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "node_id must be 1-256 characters");
  }
  const std::string node_id = hello.node_id();
  auto record = std::make_shared<DataPlaneRecord>(store_, metrics_, hello);
  record->Hello();
  publisher_.StreamOpened(record);
  log::Info("data plane connected",
            {{"node_id", node_id},
             {"peer", context->peer()},
             {"applied_revision", absl::StrCat(hello.applied_revision())}});

  PushState state;
  if (hello.applied_revision() > 0) {
    // A revision newer than the database's means the database was reset (or
    // is another one): what the data plane holds is no base for a delta.
    absl::StatusOr<int64_t> revision = store_.GetRevision();
    if (revision.ok() && hello.applied_revision() <= *revision) {
      state.held = hello.applied_revision();
    }
  }

  // ACKs and NACKs arrive whenever the data plane has applied a push; read
  // them on their own thread so the writer below never blocks on them.
  std::thread reader([&] {
    v1::StreamConfigRequest message;
    while (stream->Read(&message)) {
      record->Answer(message);
      OnAnswer(state, message);
    }
    std::lock_guard<std::mutex> lock(state.mu);
    state.peer_done = true;
    state.answered.notify_all();
  });

  auto ended = [&] { return context->IsCancelled() || publisher_.stopped(); };
  grpc::Status result = grpc::Status::OK;
  int64_t sent_figures_epoch = -1;
  auto awaiting_since = std::chrono::steady_clock::now();
  auto last_config_push = awaiting_since;
  while (!ended()) {
    std::unique_lock<std::mutex> lock(state.mu);
    if (state.peer_done) break;
    // One push in flight at a time: wait for its answer.
    if (state.awaiting) {
      state.answered.wait_for(lock, kIdleCheck);
      if (state.awaiting &&
          std::chrono::steady_clock::now() - awaiting_since > kAnswerTimeout) {
        log::Warn("data plane did not answer a config push",
                  {{"node_id", node_id},
                   {"revision", absl::StrCat(state.awaiting->first)}});
        state.awaiting.reset();
        state.held.reset();
        state.force_full = true;
      }
      continue;
    }
    ConfigPublisher::Version now = publisher_.Current();
    const bool config_due =
        now.revision > std::max(state.attempted, state.held.value_or(-1));
    FleetFiguresPtr figures = publisher_.Figures();
    const bool figures_due = state.held.has_value() && figures &&
                             figures->epoch != sent_figures_epoch;
    if (!config_due && !figures_due) {
      const bool pushed_before = state.attempted >= 0;
      lock.unlock();
      if (!(publisher_.WaitForChange(now, kIdleCheck) == now) &&
          pushed_before) {
        std::this_thread::sleep_for(kCoalesceDelay);
      }
      continue;
    }
    const std::optional<int64_t> held = state.held;
    const bool force_full = state.force_full;
    const bool pushed_before = state.attempted >= 0;
    lock.unlock();
    if (config_due && pushed_before) {
      auto since = std::chrono::steady_clock::now() - last_config_push;
      if (since < kMinConfigInterval) {
        std::this_thread::sleep_for(kMinConfigInterval - since);
        now = publisher_.Current();
      }
    }

    v1::StreamConfigResponse push;
    PushKind kind = PushKind::kBudget;
    if (config_due) {
      absl::StatusOr<PublishedConfigPtr> config = cache_.Get(now.revision);
      absl::StatusOr<FleetFiguresPtr> fresh =
          config.ok() ? publisher_.FiguresFor(**config)
                      : absl::StatusOr<FleetFiguresPtr>(config.status());
      std::optional<v1::ConfigDelta> delta;
      absl::Status status = fresh.status();
      if (status.ok() && held && !force_full) {
        absl::StatusOr<std::optional<v1::ConfigDelta>> built =
            BuildConfigDelta(store_, **config, *held);
        if (built.ok()) {
          delta = *std::move(built);
        } else {
          status = built.status();
        }
      }
      if (!status.ok()) {
        log::Error("cannot build config push",
                   {{"node_id", node_id}, {"error", status.ToString()}});
        if (status.code() == absl::StatusCode::kUnavailable) {
          // The database is down: the data plane keeps its config; try
          // again on the next wake-up.
          publisher_.WaitForChange(now, kIdleCheck * 4);
          continue;
        }
        result = ToGrpcStatus(status);
        break;
      }
      figures = *fresh;
      push.set_revision((*config)->revision());
      if (delta) {
        kind = PushKind::kDelta;
        *push.mutable_delta() = *std::move(delta);
        for (const v1::BudgetSpend& row : figures->budget_spend) {
          *push.mutable_delta()->add_budget_spend() = row;
        }
        push.mutable_delta()->set_fleet_size(figures->fleet_size);
      } else {
        kind = PushKind::kSnapshot;
        v1::ConfigSnapshot* snapshot = push.mutable_snapshot();
        *snapshot = (*config)->snapshot;
        for (const v1::BudgetSpend& row : figures->budget_spend) {
          *snapshot->add_budget_spend() = row;
        }
        snapshot->set_fleet_size(figures->fleet_size);
      }
      // Never go back to an older revision than one already seen.
      publisher_.NotifyRevision(push.revision());
    } else {
      // Only the fleet figures moved: a delta that changes no resource.
      push.set_revision(*held);
      v1::ConfigDelta* delta = push.mutable_delta();
      delta->set_base_revision(*held);
      for (const v1::BudgetSpend& row : figures->budget_spend) {
        *delta->add_budget_spend() = row;
      }
      delta->set_fleet_size(figures->fleet_size);
    }

    lock.lock();
    state.awaiting = {push.revision(), kind};
    awaiting_since = std::chrono::steady_clock::now();
    if (kind != PushKind::kBudget) {
      state.attempted = push.revision();
      state.force_full = false;
      last_config_push = awaiting_since;
    }
    lock.unlock();
    switch (kind) {
      case PushKind::kSnapshot:
        metrics_.config_pushes_snapshot.Increment();
        break;
      case PushKind::kDelta:
        metrics_.config_pushes_delta.Increment();
        break;
      case PushKind::kBudget:
        metrics_.config_pushes_budget.Increment();
        break;
    }
    if (!stream->Write(push)) break;
    sent_figures_epoch = figures->epoch;
    log::Debug("config pushed", {{"node_id", node_id},
                                 {"kind", KindName(kind)},
                                 {"revision", absl::StrCat(push.revision())}});
  }

  // Unblocks the reader's Read when this side ends the stream (shutdown,
  // failed write, build error).
  {
    std::lock_guard<std::mutex> lock(state.mu);
    if (!state.peer_done) context->TryCancel();
  }
  reader.join();
  if (publisher_.StreamClosed(record)) record->Closed();
  log::Info("data plane disconnected", {{"node_id", node_id}});
  return result;
}

}  // namespace llmproxy::controlplane
