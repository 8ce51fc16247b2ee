#pragma once

// Included only by the Beast translation units (upstream_client.cc,
// client_session.cc): keep it out of everything else, Beast is costly to
// compile.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "dataplane/http_parsers.h"
#include "dataplane/io_types.h"
#include "dataplane/provider_adapter.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace llmproxy::dataplane {

struct UpstreamTimeouts {
  std::chrono::milliseconds connect{5000};
  // From sending the request to the response header.
  std::chrono::milliseconds first_byte{600000};
  // Between two reads of the response body.
  std::chrono::milliseconds idle{60000};
};

class UpstreamConnection;

// The request line and header sent upstream for `upstream` with a body of
// `body_size` bytes: upstream.head (see PrepareUpstreamRequest), then
// Content-Length.
std::string SerializeRequestHead(const UpstreamRequest& upstream,
                                 std::size_t body_size);

// Idle keep-alive connections to upstream servers, keyed by scheme:host:port.
// One pool per io_context (per I/O thread), touched only from that thread, so
// it needs no lock; a request on a pooled connection skips DNS, TCP and TLS
// set-up.
class UpstreamPool {
 public:
  UpstreamPool(IoExecutor executor, boost::asio::ssl::context& tls);
  ~UpstreamPool();

  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // A connection idle in the pool for `key` (newest first), or nullptr.
  std::unique_ptr<UpstreamConnection> TakeIdle(const std::string& key);
  // Returns a connection whose last exchange completed cleanly.
  void PutIdle(std::unique_ptr<UpstreamConnection> connection);
  // Closes every idle connection (shutdown).
  void Clear();

  IoExecutor executor() const { return executor_; }
  boost::asio::ssl::context& tls() { return tls_; }

 private:
  IoExecutor executor_;
  boost::asio::ssl::context& tls_;
  absl::flat_hash_map<std::string,
                      std::vector<std::unique_ptr<UpstreamConnection>>>
      idle_;
};

// Why an exchange failed, which decides the client's status (502 vs 504) and
// whether another deployment may be tried.
enum class UpstreamFailure {
  kNone,
  kConnect,         // DNS, TCP or TLS set-up failed (502, retryable)
  kConnectTimeout,  // set-up took longer than the connect timeout (504,
                    // retryable)
  kTimeout,         // no response header in time, or body stalled (504)
  kBadResponse,     // broken or unparsable response (502)
  kCancelled,       // Cancel() was called (the client went away)
};

// One request/response with an upstream server over a pooled connection.
// Start sends the request and reads the response header; the body is then
// read incrementally (ReadSome) or whole (ReadAll). Destroying the exchange
// returns the connection to the pool when the response was read completely
// and the server allows keep-alive, and closes it otherwise.
class UpstreamExchange {
 public:
  UpstreamExchange(UpstreamPool& pool, UpstreamTimeouts timeouts);
  ~UpstreamExchange();

  // Sends `request` + `body`. On a pooled connection that turns out to be
  // dead before any response byte, retries once on a fresh connection.
  // `yield_before_answer`: between sending and reading the answer, let the
  // thread's other work run first (YieldThread).
  Task<UpstreamFailure> Start(const UpstreamRequest& request, std::string body,
                              bool yield_before_answer);

  int status() const;
  const HeaderFields& headers() const;

  // Reads up to `size` body bytes into `data`; 0 means the body is complete.
  Task<absl::StatusOr<std::size_t>> ReadSome(char* data, std::size_t size);
  // Reads the rest of the body (RESOURCE_EXHAUSTED above `limit` bytes).
  Task<absl::StatusOr<std::string>> ReadAll(std::size_t limit);

  // Aborts whatever is in flight (closes the socket); pending operations
  // finish with kCancelled/CANCELLED. Call from the exchange's thread.
  void Cancel();

  // The failure behind the last non-OK ReadSome/ReadAll status.
  UpstreamFailure last_failure() const { return last_failure_; }
  // Why Start failed, for logs (no secrets: socket/TLS error text only).
  const std::string& error_detail() const { return error_detail_; }

 private:
  UpstreamPool& pool_;
  UpstreamTimeouts timeouts_;
  std::unique_ptr<UpstreamConnection> connection_;
  bool cancelled_ = false;
  UpstreamFailure last_failure_ = UpstreamFailure::kNone;
  std::string error_detail_;
};

}  // namespace llmproxy::dataplane
