#include "common/admin_http_server.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/co_spawn.hpp"
#include "boost/asio/detached.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/redirect_error.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/host_port.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace llmproxy {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A scrape or probe is tiny; anything bigger is not a client we serve.
constexpr std::size_t kMaxRequestBytes = 16 * 1024;
// A probe that stalls longer than this is dropped, so idle keep-alive
// connections cannot pile up.
constexpr auto kIdleTimeout = std::chrono::seconds(30);

}  // namespace

class AdminHttpServer::Impl {
 public:
  Impl(std::string address_port, std::shared_ptr<prometheus::Registry> registry,
       ReadyCheck ready)
      : address_port_(std::move(address_port)),
        registry_(std::move(registry)),
        ready_(std::move(ready)) {}

  ~Impl() { Stop(); }

  absl::Status Start() {
    std::lock_guard<std::mutex> lock(mu_);
    if (io_) return absl::FailedPreconditionError("already started");
    absl::StatusOr<HostPort> host_port = ParseHostPort(address_port_);
    if (!host_port.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "admin HTTP address must be host:port, got \"", address_port_, "\""));
    }
    auto io = std::make_unique<asio::io_context>(1);
    auto acceptor = std::make_unique<tcp::acceptor>(*io);
    try {
      tcp::resolver resolver(*io);
      auto results =
          resolver.resolve(host_port->host, std::to_string(host_port->port),
                           tcp::resolver::passive);
      if (results.empty()) {
        return absl::UnavailableError(
            absl::StrCat("cannot resolve ", address_port_));
      }
      tcp::endpoint endpoint = results.begin()->endpoint();
      acceptor->open(endpoint.protocol());
      acceptor->set_option(asio::socket_base::reuse_address(true));
      acceptor->bind(endpoint);
      acceptor->listen(asio::socket_base::max_listen_connections);
      port_.store(acceptor->local_endpoint().port());
    } catch (const boost::system::system_error& e) {
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on ", address_port_, ": ", e.code().message()));
    }
    io_ = std::move(io);
    acceptor_ = std::move(acceptor);
    asio::co_spawn(*io_, Accept(), asio::detached);
    thread_ = std::thread([this] { io_->run(); });
    return absl::OkStatus();
  }

  uint16_t port() const { return port_.load(); }

  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!io_) return;
    io_->stop();
    if (thread_.joinable()) thread_.join();
    // Destroying the io_context destroys the suspended coroutines, which
    // closes every socket they own; the acceptor goes after them.
    io_.reset();
    acceptor_.reset();
  }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor_->async_accept(
          asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) continue;  // e.g. EMFILE: keep accepting the next ones.
      asio::co_spawn(acceptor_->get_executor(), Serve(std::move(socket)),
                     asio::detached);
    }
  }

  asio::awaitable<void> Serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      boost::system::error_code ec;
      http::request_parser<http::string_body> parser;
      parser.body_limit(kMaxRequestBytes);
      parser.header_limit(kMaxRequestBytes);
      stream.expires_after(kIdleTimeout);
      co_await http::async_read(stream, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;  // Closed, timed out or garbage: drop the connection.
      http::response<http::string_body> response = Handle(parser.get());
      stream.expires_after(kIdleTimeout);
      co_await http::async_write(stream, response,
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec || response.need_eof()) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  http::response<http::string_body> Handle(
      const http::request<http::string_body>& request) {
    http::response<http::string_body> response;
    response.version(request.version());
    response.keep_alive(request.keep_alive());
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    std::string_view target = request.target();
    target = target.substr(0, target.find('?'));

    if (request.method() != http::verb::get &&
        request.method() != http::verb::head) {
      response.result(http::status::method_not_allowed);
      response.set(http::field::allow, "GET, HEAD");
      response.body() = "method not allowed\n";
    } else if (target == "/metrics") {
      response.result(http::status::ok);
      // The content type Prometheus expects for the text exposition format.
      response.set(http::field::content_type,
                   "text/plain; version=0.0.4; charset=utf-8");
      if (registry_) {
        response.body() =
            prometheus::TextSerializer().Serialize(registry_->Collect());
      }
    } else if (target == "/healthz") {
      response.result(http::status::ok);
      response.body() = "ok\n";
    } else if (target == "/readyz") {
      bool ready = !ready_ || ready_();
      response.result(ready ? http::status::ok
                            : http::status::service_unavailable);
      response.body() = ready ? "ready\n" : "not ready\n";
    } else {
      response.result(http::status::not_found);
      response.body() = "not found\n";
    }
    response.prepare_payload();
    if (request.method() == http::verb::head) response.body().clear();
    return response;
  }

  const std::string address_port_;
  const std::shared_ptr<prometheus::Registry> registry_;
  const ReadyCheck ready_;

  std::mutex mu_;  // Serialises Start and Stop.
  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::thread thread_;
  std::atomic<uint16_t> port_{0};
};

AdminHttpServer::AdminHttpServer(std::string address_port,
                                 std::shared_ptr<prometheus::Registry> registry,
                                 ReadyCheck ready)
    : impl_(std::make_unique<Impl>(std::move(address_port), std::move(registry),
                                   std::move(ready))) {}

AdminHttpServer::~AdminHttpServer() = default;

absl::Status AdminHttpServer::Start() { return impl_->Start(); }

uint16_t AdminHttpServer::port() const { return impl_->port(); }

void AdminHttpServer::Stop() { impl_->Stop(); }

}  // namespace llmproxy
