#include "controlplane/change_listener.h"

#include <algorithm>
#include <exception>
#include <utility>

#include "absl/strings/numbers.h"
#include "common/log.h"
#include "controlplane/store/store.h"
#include "pqxx/pqxx"

namespace llmproxy::controlplane {
namespace {

// How long one wait for notifications lasts: bounds how late Stop() returns.
constexpr long kAwaitMicros = 250000;
constexpr auto kInitialBackoff = std::chrono::milliseconds(250);
constexpr auto kMaxBackoff = std::chrono::seconds(5);

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& connection,
           const ChangeListener::RevisionCallback& on_revision)
      : pqxx::notification_receiver(connection, kConfigNotifyChannel),
        on_revision_(on_revision) {}

  void operator()(const std::string& payload, int /*backend_pid*/) override {
    int64_t revision = 0;
    if (absl::SimpleAtoi(payload, &revision)) on_revision_(revision);
  }

 private:
  const ChangeListener::RevisionCallback& on_revision_;
};

}  // namespace

ChangeListener::ChangeListener(std::string database_url,
                               RevisionCallback on_revision,
                               std::function<void()> on_connected)
    : database_url_(std::move(database_url)),
      on_revision_(std::move(on_revision)),
      on_connected_(std::move(on_connected)) {}

ChangeListener::~ChangeListener() { Stop(); }

void ChangeListener::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ChangeListener::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ChangeListener::listening() const {
  std::lock_guard<std::mutex> lock(mu_);
  return listening_;
}

bool ChangeListener::SleepFor(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock(mu_);
  stop_cv_.wait_for(lock, delay, [&] { return stopping_; });
  return !stopping_;
}

void ChangeListener::Run() {
  auto backoff = kInitialBackoff;
  bool logged_failure = false;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    try {
      pqxx::connection connection(database_url_);
      Receiver receiver(connection, on_revision_);
      // The LISTEN is issued when the receiver registers; one round trip
      // makes sure it is active before we announce it.
      connection.get_notifs();
      {
        std::lock_guard<std::mutex> lock(mu_);
        listening_ = true;
      }
      log::Info("listening for config changes",
                {{"channel", kConfigNotifyChannel}});
      logged_failure = false;
      backoff = kInitialBackoff;
      // Changes committed while we were not listening were not notified.
      on_connected_();
      while (true) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (stopping_) break;
        }
        connection.await_notification(0, kAwaitMicros);
      }
    } catch (const std::exception& e) {
      // libpq's messages name the host, never the password.
      if (!logged_failure) {
        log::Warn(
            "config change listener failed; retrying (the revision "
            "poll still catches changes)",
            {{"error", e.what()}});
        logged_failure = true;
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      listening_ = false;
    }
    if (!SleepFor(backoff)) return;
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
  }
}

}  // namespace llmproxy::controlplane
