#include "dataplane/http_server.h"

#include <charconv>
#include <thread>
#include <vector>

#include "boost/asio/co_spawn.hpp"
#include "boost/asio/detached.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/ssl/context.hpp"
#include "common/host_port.h"
#include "common/log.h"
#include "dataplane/client_session.h"

namespace llmproxy::dataplane {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

struct Worker {
  // One thread runs this context, and every operation on its sockets and
  // timers starts on that thread (others only post to it), so the reactor's
  // per-socket locks are dropped; the scheduler and descriptor registration
  // (the acceptor on worker 0 registers sockets for all) stay locked.
  asio::io_context io{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  asio::executor_work_guard<asio::io_context::executor_type> guard{
      io.get_executor()};
  std::unique_ptr<UpstreamPool> pool;
  SessionWorker sessions{io.get_executor()};
  std::thread thread;
};

Task<void> RunSession(TcpSocket socket, SessionSettings& settings,
                      SessionWorker& worker) {
  ClientSession session(std::move(socket), settings, worker);
  co_await session.Run();
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, SnapshotHolder& holder)
      : options_(std::move(options)),
        settings_(holder),
        tls_(asio::ssl::context::tls_client) {
    settings_.handler = options_.handler;
    settings_.max_body_bytes = options_.max_body_bytes;
    settings_.idle_timeout = options_.idle_timeout;
    settings_.upstream.connect = options_.upstream_connect_timeout;
    settings_.upstream.first_byte = options_.upstream_first_byte_timeout;
    settings_.upstream.idle = options_.idle_timeout;
    settings_.metrics = options_.metrics;
    settings_.on_usage = options_.on_usage;
    settings_.node_id = options_.node_id;
    tls_.set_default_verify_paths();
    tls_.set_verify_mode(asio::ssl::verify_peer);
    tls_.set_options(
        asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
        asio::ssl::context::no_tlsv1_1);
  }

  ~Impl() { Shutdown(std::chrono::milliseconds(0)); }

  absl::Status Start() {
    absl::StatusOr<HostPort> listen = ParseHostPort(options_.listen_address);
    if (!listen.ok()) return listen.status();
    const std::string& host = listen->host;
    const uint16_t port = listen->port;
    int threads = std::max(1, options_.threads);
    for (int i = 0; i < threads; ++i) {
      auto w = std::make_unique<Worker>();
      w->pool = std::make_unique<UpstreamPool>(w->io.get_executor(), tls_);
      w->sessions.pool = w->pool.get();
      workers_.push_back(std::move(w));
    }
    boost::system::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (ec) return absl::InvalidArgumentError("bad listen host " + host);
    acceptor_.emplace(workers_[0]->io);
    tcp::endpoint endpoint(address, port);
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          "cannot listen on " + options_.listen_address + ": " + ec.message());
    }
    port_ = acceptor_->local_endpoint().port();
    asio::co_spawn(workers_[0]->io, Accept(), asio::detached);
    for (auto& w : workers_) {
      Worker* worker = w.get();
      worker->thread = std::thread([worker] { worker->io.run(); });
    }
    started_ = true;
    return absl::OkStatus();
  }

  uint16_t port() const { return port_; }

  void Shutdown(std::chrono::milliseconds grace) {
    if (!started_ || stopped_) return;
    stopped_ = true;
    settings_.stopping.store(true);
    asio::post(workers_[0]->io, [this] {
      boost::system::error_code ec;
      acceptor_->close(ec);
    });
    auto deadline = std::chrono::steady_clock::now() + grace;
    // Idle keep-alive connections would otherwise hold the exit until their
    // idle timeout; sessions busy now close after their response.
    while (true) {
      for (auto& w : workers_) {
        SessionWorker* sessions = &w->sessions;
        asio::post(w->io, [sessions] {
          for (ClientSession* s : sessions->sessions) s->CloseIfIdle();
        });
      }
      if (settings_.active_sessions.load() == 0 ||
          std::chrono::steady_clock::now() >= deadline) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    int left = settings_.active_sessions.load();
    if (left > 0) {
      log::Warn("shutdown grace period over; closing remaining connections",
                {{"connections", std::to_string(left)}});
      for (auto& w : workers_) {
        SessionWorker* sessions = &w->sessions;
        asio::post(w->io, [sessions] {
          for (ClientSession* s : sessions->sessions) s->Abort();
        });
      }
      auto hard_deadline =
          std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (settings_.active_sessions.load() > 0 &&
             std::chrono::steady_clock::now() < hard_deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    // With no session left, each io_context runs out of work once its pool
    // is closed and its guard released, and its thread returns.
    for (auto& w : workers_) {
      UpstreamPool* pool = w->pool.get();
      asio::post(w->io, [pool] { pool->Clear(); });
      w->guard.reset();
      if (settings_.active_sessions.load() > 0) w->io.stop();
    }
    for (auto& w : workers_) {
      if (w->thread.joinable()) w->thread.join();
    }
  }

 private:
  Task<void> Accept() {
    std::size_t next = 0;
    while (true) {
      Worker& target = *workers_[next++ % workers_.size()];
      auto [ec, socket] =
          co_await acceptor_->async_accept(target.io, kUseTuple);
      if (ec) {
        if (!acceptor_->is_open() || settings_.stopping.load()) co_return;
        log::Warn("accept failed", {{"error", ec.message()}});
        continue;
      }
      asio::co_spawn(target.io,
                     RunSession(std::move(socket), settings_, target.sessions),
                     asio::detached);
    }
  }

  HttpServerOptions options_;
  SessionSettings settings_;
  asio::ssl::context tls_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::optional<TcpAcceptor> acceptor_;
  uint16_t port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

HttpServer::HttpServer(HttpServerOptions options, SnapshotHolder& holder)
    : impl_(std::make_unique<Impl>(std::move(options), holder)) {}

HttpServer::~HttpServer() = default;

absl::Status HttpServer::Start() { return impl_->Start(); }

uint16_t HttpServer::port() const { return impl_->port(); }

void HttpServer::Shutdown(std::chrono::milliseconds grace) {
  impl_->Shutdown(grace);
}

}  // namespace llmproxy::dataplane
