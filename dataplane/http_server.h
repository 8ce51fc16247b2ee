#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "dataplane/request_handler.h"
#include "dataplane/snapshot_holder.h"

namespace llmproxy::dataplane {

class DataplaneMetrics;

struct HttpServerOptions {
  // "host:port", "[v6]:port"; port 0 picks a free one (see port()).
  std::string listen_address = "0.0.0.0:8080";
  int threads = 1;
  std::size_t max_body_bytes = 10 << 20;
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds upstream_connect_timeout{5000};
  std::chrono::milliseconds upstream_first_byte_timeout{600000};
  HandlerOptions handler;
  // Optional; must outlive the server.
  DataplaneMetrics* metrics = nullptr;
  // Receives the usage record of every finished inference request, as a
  // serialized llmproxy.v1.UsageRecord (optional; called on I/O threads,
  // must not block).
  std::function<void(std::string)> on_usage;
  // UsageRecord.dataplane_id.
  std::string node_id;
};

// The client-facing HTTP/1.1 server: one io_context and thread per
// --threads, each with its own upstream connection pool, so a request and
// its upstream connection stay on one thread with no locking. Beast stays in
// the .cc files.
class HttpServer {
 public:
  HttpServer(HttpServerOptions options, SnapshotHolder& holder);
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the I/O threads. INVALID_ARGUMENT for a bad address,
  // UNAVAILABLE when it cannot bind.
  absl::Status Start();
  uint16_t port() const;

  // Graceful stop: stops accepting, closes idle keep-alive connections,
  // lets in-flight requests and streams finish for up to `grace`, then
  // closes what is left and joins the threads.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmproxy::dataplane
