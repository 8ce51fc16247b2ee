#pragma once

// Included only by the Beast translation units (client_session.cc,
// http_server.cc).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include "boost/asio/steady_timer.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "dataplane/http_parsers.h"
#include "dataplane/io_types.h"
#include "dataplane/metrics/dataplane_metrics.h"
#include "dataplane/request_handler.h"
#include "dataplane/snapshot_holder.h"
#include "dataplane/socket_deadline.h"
#include "dataplane/upstream_client.h"
#include "dataplane/usage_record.h"

namespace llmproxy::dataplane {

// What every session shares: read-only settings plus a few atomics.
struct SessionSettings {
  explicit SessionSettings(SnapshotHolder& h) : holder(h) {}
  SnapshotHolder& holder;
  HandlerOptions handler;
  std::size_t max_body_bytes = 10 << 20;
  // Keep-alive idle time, and the deadline for reading a request's header
  // and (separately) its body, so a slow client cannot pin a connection.
  std::chrono::milliseconds idle_timeout{60000};
  UpstreamTimeouts upstream;
  // Upper bound on a non-streamed upstream response held in memory.
  std::size_t max_upstream_body_bytes = 64 << 20;
  DataplaneMetrics* metrics = nullptr;  // optional
  // Receives the usage record of every finished request to an inference
  // endpoint, serialized (optional; must not block).
  std::function<void(std::string)> on_usage;
  // The data plane's node id (UsageRecord.dataplane_id).
  std::string node_id;
  std::atomic<bool> stopping{false};
  std::atomic<int> active_sessions{0};
};

class ClientSession;
struct ClientWatch;

// Watching a client for a hang-up while its request is upstream costs a
// system call, and an operation to cancel once the answer is in; most
// answers come back long before a client gives up. So a request is watched
// only once it has waited kDelay: the hang-up of a client that leaves a
// request is noticed within 2 x kDelay. Per I/O thread: requests in the order
// they went upstream, and one timer that ticks at most once per kDelay while
// any of them waits.
class DelayedWatches {
 public:
  static constexpr std::chrono::milliseconds kDelay{20};

  explicit DelayedWatches(IoExecutor executor) : timer_(executor) {}

  // Starts the watch of `watch`'s current request kDelay from now, if that
  // request is still upstream then.
  void Add(std::shared_ptr<ClientWatch> watch);

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::shared_ptr<ClientWatch> watch;
    uint64_t generation;
    Clock::time_point due;
  };

  void Wait(Clock::time_point due);
  void OnTimer(const boost::system::error_code& ec);

  std::deque<Entry> entries_;
  boost::asio::basic_waitable_timer<Clock, boost::asio::wait_traits<Clock>,
                                    IoExecutor>
      timer_;
  bool waiting_ = false;
};

// Per I/O thread: its upstream pool, its live sessions and their delayed
// watches (touched only on that thread).
struct SessionWorker {
  explicit SessionWorker(IoExecutor executor) : watches(executor) {}

  UpstreamPool* pool = nullptr;
  std::unordered_set<ClientSession*> sessions;
  DelayedWatches watches;
  // Requests being served on this thread. While any is, a read that would
  // find nothing yet waits for them first (YieldThread); alone on the
  // thread, a session reads at once, as yielding would only add a poll.
  int requests_in_flight = 0;
};

// One client connection: reads requests one after another (keep-alive),
// answers errors and /v1/models itself, and proxies the rest upstream.
class ClientSession {
 public:
  ClientSession(TcpSocket socket, SessionSettings& settings,
                SessionWorker& worker);
  ~ClientSession();

  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  Task<void> Run();

  // Shutdown: closes the connection now if it is between requests; a busy
  // one closes after its current response.
  void CloseIfIdle();
  // End of the shutdown grace period: closes the connection and cancels the
  // upstream request, whatever state it is in.
  void Abort();

 private:
  // Readies the connection for its next request's header: a new parser,
  // the idle timeout, and no read buffer kept while idle.
  void PrepareForRequest();
  // Serves the request whose header was read (or failed to read:
  // `header_error`); false when the connection must close afterwards.
  Task<bool> ServeOne(boost::system::error_code header_error);
  // Answers a request whose header was refused (Content-Length over the
  // body limit: 413; malformed: 400) and returns false: hang up.
  Task<bool> RefuseUnreadRequest(boost::system::error_code header_error);
  // 413 for a body over the limit; returns false: hang up.
  Task<bool> RefuseTooLarge();
  // "100 Continue" for a client that waits for it; false if it failed.
  Task<bool> SendContinue();
  Task<void> Dispatch(RequestParser& request);
  Task<void> WriteDirect(const DirectResponse& response);
  Task<void> WriteError(const ApiError& error);
  Task<void> Proxy(ProxyPlan& plan);
  Task<void> ProxyAttempts(ProxyPlan& plan);
  Task<void> RelayStream(int status, bool strip_usage);
  Task<void> RelayWhole(int status);
  // Watch the client socket while a request is upstream: if the client
  // disconnects, the upstream exchange is cancelled; bytes of a pipelined
  // next request stay in the socket. StartWatch hands the request to the
  // thread's DelayedWatches, which calls ArmWatch if it is still upstream
  // after the delay. A plain completion handler on a peek, not a second
  // coroutine: no frames, no parallel group, and no epoll_ctl (Asio tries
  // the peek once, a failed recvfrom, then waits for readability).
  friend class DelayedWatches;
  void StartWatch();
  void StopWatch();
  void ArmWatch();
  void OnClientReadable(const boost::system::error_code& ec);
  // The request is over (once per request): settles its limits, records
  // metrics and its usage record, and logs it.
  void Finish(int status);
  // x-request-id (always ours) and x-client-request-id (the client's own).
  template <typename Response>
  void SetRequestIdHeaders(Response& res) const {
    res.set("x-request-id", request_id_);
    if (!client_request_id_.empty()) {
      res.set("x-client-request-id", client_request_id_);
    }
  }

  TcpSocket socket_;
  // The idle, header and body timeouts, and a client too slow to take a
  // response.
  SocketDeadline deadline_;
  boost::beast::flat_buffer buffer_;
  SessionSettings& settings_;
  SessionWorker& worker_;
  std::optional<RequestParser> parser_;
  bool idle_ = true;
  ApiKeyHasher key_hasher_;

  // Per request.
  std::string request_id_;
  // The client's own correlation id, if it sent a sane one (else empty).
  std::string client_request_id_;
  std::string method_;
  std::string path_;
  std::string model_;
  std::string key_id_;
  std::string key_name_;
  // The deployment tried last and its connection: views into the request's
  // snapshot, which the ProxyPlan holds until the request is finished.
  std::string_view deployment_id_;
  std::string_view provider_;
  std::string_view remote_model_;
  std::string_view connection_id_;
  bool keep_alive_ = true;
  bool head_ = false;
  bool response_started_ = false;
  bool client_gone_ = false;
  std::chrono::steady_clock::time_point started_;
  double ttft_seconds_ = -1;  // first SSE event relayed; -1 if none
  // First response body byte written (any response); -1 if none.
  double first_byte_seconds_ = -1;
  std::chrono::system_clock::time_point started_wall_;
  // A request to chat/completions, completions or embeddings: it gets a
  // usage record.
  bool inference_ = false;
  bool finished_ = false;
  bool streamed_ = false;
  // The upstream answered (status < 400): it may have used tokens.
  bool upstream_answered_ = false;
  std::string assignment_id_;
  std::optional<LimitKind> refused_;
  const Deployment* deployment_ = nullptr;
  Admission* admission_ = nullptr;  // owned by the request's ProxyPlan
  const HeaderList* rate_limit_headers_ = nullptr;  // the ProxyPlan's
  TokenEstimate estimate_;
  // The provider's usage (response body or SSE usage chunk), if seen.
  std::optional<TokenUsage> usage_;
  // SSE content events relayed to the client (the charge of an abandoned
  // stream without a usage chunk: one token each).
  int64_t deltas_relayed_ = 0;
  std::unique_ptr<UpstreamExchange> exchange_;
  // Shared with the pending readiness wait (which may complete after the
  // request, or the session, is over); created on the first proxied request.
  std::shared_ptr<struct ClientWatch> watch_;
};

}  // namespace llmproxy::dataplane
