#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace llmproxy {

// The operations endpoint both planes expose on their own port, apart from
// the traffic they serve: a tiny HTTP/1.1 server on one thread of its own.
//
//   GET /metrics  200, Prometheus text format of every metric in the registry
//   GET /healthz  200 "ok" as long as the process answers (liveness)
//   GET /readyz   200 "ready" when the ready check says so, else 503
//                 "not ready" (readiness: take me out of the load balancer)
//   other paths   404; methods other than GET/HEAD: 405
//
// The ready check runs on the server's thread for every /readyz request: keep
// it cheap (read an atomic a background task maintains) rather than doing I/O.
//
// Boost.Beast stays in the .cc file so including this header costs nothing.
class AdminHttpServer {
 public:
  using ReadyCheck = std::function<bool()>;

  // `address_port` is "host:port" ("0.0.0.0:9090", "127.0.0.1:0",
  // "[::1]:9091", "localhost:9091"); port 0 picks a free port (see port()).
  // A null `ready` means always ready; a null `registry` serves an empty
  // /metrics.
  AdminHttpServer(std::string address_port,
                  std::shared_ptr<prometheus::Registry> registry,
                  ReadyCheck ready);
  // Stops the server if it is running.
  ~AdminHttpServer();

  AdminHttpServer(const AdminHttpServer&) = delete;
  AdminHttpServer& operator=(const AdminHttpServer&) = delete;

  // Binds, listens and starts serving on a new thread. INVALID_ARGUMENT for a
  // malformed address, UNAVAILABLE when it cannot bind (port in use, ...),
  // FAILED_PRECONDITION when already started.
  absl::Status Start();

  // The port bound by Start() (the real one when 0 was asked); 0 before.
  uint16_t port() const;

  // Closes the listener and open connections and joins the thread.
  // Idempotent; safe to call without Start().
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmproxy
