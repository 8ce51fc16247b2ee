#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace llmproxy::controlplane {

// Listens on PostgreSQL for the store's change notifications
// (LISTEN llmproxy_config, payload = the new revision) on a dedicated
// connection in its own thread, so a change committed through any
// control-plane replica reaches this one within milliseconds.
//
// The connection is re-opened with backoff when it fails; `on_connected`
// runs after every (re)connection, because notifications sent while the
// connection was down are lost and the caller should re-read the revision.
// Notifications can be missed, so callers keep a slow revision poll as well.
class ChangeListener {
 public:
  using RevisionCallback = std::function<void(int64_t revision)>;

  // `database_url` is a postgresql:// URL; it is never logged.
  ChangeListener(std::string database_url, RevisionCallback on_revision,
                 std::function<void()> on_connected);
  ~ChangeListener();

  ChangeListener(const ChangeListener&) = delete;
  ChangeListener& operator=(const ChangeListener&) = delete;

  void Start();
  // Returns once the listening thread has ended (within ~250 ms).
  void Stop();

  // Whether the LISTEN connection is up now.
  bool listening() const;

 private:
  void Run();
  // Sleeps up to `delay`; false when stopping.
  bool SleepFor(std::chrono::milliseconds delay);

  const std::string database_url_;
  const RevisionCallback on_revision_;
  const std::function<void()> on_connected_;

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  bool listening_ = false;
  std::thread thread_;
};

}  // namespace llmproxy::controlplane
