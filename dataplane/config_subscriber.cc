#include "dataplane/config_subscriber.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <random>

#include "common/config_delta.h"
#include "common/log.h"
#include "llmproxy/v1/config_service.grpc.pb.h"

namespace llmproxy::dataplane {

ConfigSubscriber::ConfigSubscriber(ConfigSubscriberOptions options,
                                   SnapshotHolder& holder,
                                   const SnapshotFile* file)
    : ConfigSubscriber(std::move(options), holder, file, SteadyClock::Get()) {}

ConfigSubscriber::ConfigSubscriber(ConfigSubscriberOptions options,
                                   SnapshotHolder& holder,
                                   const SnapshotFile* file, const Clock& clock)
    : options_(std::move(options)),
      holder_(holder),
      file_(file),
      registry_(clock) {}

ConfigSubscriber::~ConfigSubscriber() { Stop(); }

absl::Status ConfigSubscriber::Seed(v1::ConfigSnapshot snapshot) {
  return Install(std::move(snapshot), /*persist=*/false);
}

namespace {

// A push that changes no resource: only the fleet-wide figures.
bool OnlyFleetFigures(const v1::ConfigDelta& d) {
  return d.upserted_connections().empty() && d.upserted_models().empty() &&
         d.upserted_virtual_keys().empty() &&
         d.upserted_assignments().empty() &&
         d.deleted_connection_ids().empty() && d.deleted_model_ids().empty() &&
         d.deleted_virtual_key_ids().empty() &&
         d.deleted_assignment_ids().empty();
}

}  // namespace

absl::Status ConfigSubscriber::Apply(const v1::StreamConfigResponse& push) {
  return Apply(v1::StreamConfigResponse(push));
}

absl::Status ConfigSubscriber::Apply(v1::StreamConfigResponse&& push) {
  v1::ConfigSnapshot next;
  if (push.has_snapshot()) {
    // Taken over, not copied: a full snapshot can be tens of megabytes.
    next.Swap(push.mutable_snapshot());
    next.set_revision(push.revision());
  } else if (push.has_delta()) {
    if (!current_.has_value()) {
      return absl::FailedPreconditionError(
          "received a delta but no snapshot is applied");
    }
    const v1::ConfigDelta& delta = push.delta();
    ConfigSnapshotPtr live = holder_.Get();
    if (OnlyFleetFigures(delta) &&
        delta.base_revision() == current_->revision() &&
        push.revision() == current_->revision() && live != nullptr &&
        live->revision() == current_->revision()) {
      // Budget/fleet refresh (about every second): same resources, new
      // figures. Shares the built resources with the live snapshot.
      if (!delta.budget_spend().empty()) {
        *current_->mutable_budget_spend() = delta.budget_spend();
      }
      current_->set_fleet_size(delta.fleet_size());
      Swap(live->WithFleetFigures(current_->budget_spend(),
                                  current_->fleet_size(), &registry_));
      live.reset();
      ReleaseRetired();
      registry_.Prune();
      if (options_.on_applied) options_.on_applied(current_->revision());
      return absl::OkStatus();
    }
    auto merged = ApplyConfigDelta(*current_, delta, push.revision());
    if (!merged.ok()) return merged.status();
    next = *std::move(merged);
  } else {
    return absl::InvalidArgumentError(
        "push carries neither snapshot nor delta");
  }
  return Install(std::move(next), /*persist=*/true);
}

absl::Status ConfigSubscriber::Install(v1::ConfigSnapshot next, bool persist) {
  absl::StatusOr<ConfigSnapshotPtr> built =
      ConfigSnapshot::Build(next, &registry_);
  if (!built.ok()) return built.status();
  Swap(*std::move(built));
  ReleaseRetired();
  // Buckets only the replaced snapshot held are forgotten once the requests
  // still holding it finish (the registry keeps weak references).
  registry_.Prune();
  applied_revision_.store(next.revision());
  if (options_.on_applied) options_.on_applied(next.revision());
  if (persist && file_ != nullptr) {
    absl::Status saved = file_->Save(next);
    if (!saved.ok()) {
      // Serving the new config matters more than persisting it; the next
      // push will try again.
      log::Warn("cannot persist the config snapshot",
                {{"error", std::string(saved.message())}});
    }
  }
  current_ = std::move(next);
  return absl::OkStatus();
}

void ConfigSubscriber::Swap(ConfigSnapshotPtr next) {
  // The replaced snapshot is kept here, so that the last reference to it,
  // and with it the freeing of a possibly big config, is dropped on this
  // thread rather than at the end of whichever request held it last.
  if (ConfigSnapshotPtr old = holder_.Get(); old != nullptr) {
    retired_.push_back(std::move(old));
  }
  holder_.Set(std::move(next));
}

void ConfigSubscriber::ReleaseRetired() {
  // A retired snapshot can gain no new reference (it is out of the holder):
  // once only this list holds it, it can go. Those still held by requests
  // (a long stream) are looked at again after the next push.
  std::erase_if(retired_,
                [](const ConfigSnapshotPtr& s) { return s.use_count() == 1; });
}

void ConfigSubscriber::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ConfigSubscriber::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (active_context_ != nullptr) active_context_->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ConfigSubscriber::SleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return stopping_; });
  return !stopping_;
}

void ConfigSubscriber::Run() {
  if (options_.addresses.empty()) {
    log::Warn("no control-plane address; serving the persisted config only");
    return;
  }
  std::mt19937_64 rng{std::random_device{}()};
  std::chrono::milliseconds backoff = options_.initial_backoff;
  std::size_t next_address = 0;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    const std::string& address =
        options_.addresses[next_address++ % options_.addresses.size()];
    auto started = std::chrono::steady_clock::now();
    RunStream(address);
    // A stream that lived a while was healthy: start the backoff over.
    if (std::chrono::steady_clock::now() - started > std::chrono::seconds(30)) {
      backoff = options_.initial_backoff;
    }
    // Full jitter in [backoff/2, backoff], so a fleet does not reconnect in
    // lockstep after a control-plane restart.
    auto half = backoff.count() / 2;
    std::chrono::milliseconds delay(
        half + static_cast<int64_t>(rng() % static_cast<uint64_t>(half + 1)));
    if (!SleepFor(delay)) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

void ConfigSubscriber::RunStream(const std::string& address) {
  auto channel = grpc::CreateChannel(
      address, options_.credentials ? options_.credentials
                                    : grpc::InsecureChannelCredentials());
  auto stub = v1::ConfigDiscoveryService::NewStub(channel);
  grpc::ClientContext context;
  if (!options_.dataplane_token.empty()) {
    context.AddMetadata("authorization", "Bearer " + options_.dataplane_token);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    active_context_ = &context;
  }
  auto stream = stub->StreamConfig(&context);
  v1::StreamConfigRequest hello;
  hello.set_node_id(options_.node_id);
  hello.set_address(options_.advertised_address);
  hello.set_applied_revision(applied_revision_.load());
  hello.set_version(options_.version);
  bool answered = false;  // a push arrived: the channel itself works
  if (stream->Write(hello)) {
    log::Info("config stream open", {{"controlplane", address}});
    v1::StreamConfigResponse push;
    while (stream->Read(&push)) {
      answered = true;
      absl::Status applied = Apply(std::move(push));
      if (options_.on_push) options_.on_push(applied.ok());
      v1::StreamConfigRequest answer;
      answer.set_node_id(options_.node_id);
      answer.set_address(options_.advertised_address);
      answer.set_applied_revision(applied_revision_.load());
      answer.set_response_revision(push.revision());
      answer.set_version(options_.version);
      std::string revision = std::to_string(push.revision());
      if (applied.ok()) {
        log::Info("config applied", {{"revision", revision}});
      } else {
        answer.set_error_detail(std::string(applied.message()));
        log::Warn("config rejected",
                  {{"revision", revision},
                   {"error", std::string(applied.message())}});
      }
      if (!stream->Write(answer)) break;
    }
  }
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  {
    std::lock_guard<std::mutex> lock(mu_);
    active_context_ = nullptr;
  }
  if (!status.ok()) {
    const std::string hint =
        !answered && status.error_code() == grpc::StatusCode::UNAVAILABLE
            ? UnavailableTlsHint(options_.tls, status.error_message(),
                                 "--controlplane-tls")
            : "";
    const std::string code =
        std::to_string(static_cast<int>(status.error_code()));
    if (hint.empty()) {
      log::Warn("config stream closed", {{"controlplane", address},
                                         {"code", code},
                                         {"error", status.error_message()}});
    } else {
      log::Warn("config stream closed", {{"controlplane", address},
                                         {"code", code},
                                         {"error", status.error_message()},
                                         {"hint", hint}});
    }
  }
}

}  // namespace llmproxy::dataplane
