#include "dataplane/upstream_client.h"

#include <openssl/ssl.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "boost/asio/ssl.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "dataplane/ascii.h"
#include "dataplane/buffered_parse.h"
#include "dataplane/coarse_clock.h"
#include "dataplane/http_read.h"
#include "dataplane/nonblocking_write.h"
#include "dataplane/socket_deadline.h"

namespace llmproxy::dataplane {

using std::string_view_literals::operator""sv;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// A pooled connection idle longer than this is likely closed by the server
// (many close after 60 s or less); do not risk it.
constexpr auto kMaxIdle = std::chrono::seconds(30);
constexpr std::size_t kMaxIdlePerHost = 64;
// Read buffer of an upstream connection: a typical non-streamed answer
// (header + body) arrives in one read instead of 512-byte slices.
constexpr std::size_t kReadBufferBytes = 16 * 1024;

}  // namespace

// One TCP (or TLS over TCP) connection to an upstream host, with the read
// buffer and the parser of the response being read.
class UpstreamConnection {
 public:
  UpstreamConnection(IoExecutor executor, asio::ssl::context& tls,
                     const UpstreamEndpoint& endpoint)
      : key(endpoint.pool_key), resolver(executor) {
    buffer.reserve(kReadBufferBytes);
    if (endpoint.tls) {
      secure.emplace(executor, tls);
    } else {
      plain.emplace(executor);
    }
    deadline.emplace(executor, socket());
  }

  TcpSocket& socket() { return secure ? secure->next_layer() : *plain; }
  bool is_open() { return socket().is_open(); }
  void Close() {
    beast::error_code ec;
    resolver.cancel();
    socket().shutdown(tcp::socket::shutdown_both, ec);
    socket().close(ec);
  }

  std::string key;
  TcpResolver resolver;
  std::optional<TcpSocket> plain;
  std::optional<beast::ssl_stream<TcpSocket>> secure;
  // Connect, first-byte and idle timeouts.
  std::optional<SocketDeadline> deadline;
  beast::flat_buffer buffer;
  std::optional<ResponseParser> parser;
  std::chrono::steady_clock::time_point idle_since;
  bool connected = false;
};

namespace {

UpstreamFailure ConnectFailure(const UpstreamConnection& conn, bool cancelled) {
  if (cancelled) return UpstreamFailure::kCancelled;
  if (conn.deadline->expired()) return UpstreamFailure::kConnectTimeout;
  return UpstreamFailure::kConnect;
}

Task<UpstreamFailure> Connect(UpstreamConnection& conn,
                              const UpstreamEndpoint& endpoint,
                              std::chrono::milliseconds timeout,
                              const bool& cancelled, std::string& detail) {
  auto [rec, results] = co_await conn.resolver.async_resolve(
      endpoint.host, std::to_string(endpoint.port), kUseTuple);
  if (rec || cancelled) {
    detail = "resolve: " + rec.message();
    co_return ConnectFailure(conn, cancelled);
  }
  TcpSocket& socket = conn.socket();
  conn.deadline->ExpiresAfter(timeout);
  auto [cec, ep] = co_await asio::async_connect(socket, results, kUseTuple);
  if (cec || cancelled) {
    detail = conn.deadline->expired() ? "connect: timed out"
                                      : "connect: " + cec.message();
    co_return ConnectFailure(conn, cancelled);
  }
  // The connect waited for writability, and Asio keeps a socket registered
  // for what it once waited for: each ACK of a request would then wake the
  // thread for nothing. Registered afresh, the socket waits for readability
  // only (a write that cannot finish at once registers writability again).
  beast::error_code register_ec;
  if (auto fd = socket.release(register_ec); !register_ec) {
    socket.assign(ep.protocol(), fd, register_ec);
    if (register_ec) {
      ::close(fd);
      detail = "connect: " + register_ec.message();
      co_return UpstreamFailure::kConnect;
    }
  }
  beast::error_code ignored;
  // Small writes (one SSE event, one request) must leave at once.
  socket.set_option(tcp::no_delay(true), ignored);
  // WriteNow needs a socket that never blocks (async operations are
  // unaffected).
  socket.non_blocking(true, ignored);
  if (conn.secure) {
    // SNI, then verify the chain against the system store and the name
    // against the host we meant to reach.
    if (!SSL_set_tlsext_host_name(conn.secure->native_handle(),
                                  endpoint.host.c_str())) {
      co_return UpstreamFailure::kConnect;
    }
    conn.secure->set_verify_mode(asio::ssl::verify_peer);
    conn.secure->set_verify_callback(
        asio::ssl::host_name_verification(endpoint.host));
    auto [hec] = co_await conn.secure->async_handshake(
        asio::ssl::stream_base::client, kUseTuple);
    if (hec || cancelled) {
      detail = conn.deadline->expired() ? "tls handshake: timed out"
                                        : "tls handshake: " + hec.message();
      co_return ConnectFailure(conn, cancelled);
    }
  }
  conn.connected = true;
  co_return UpstreamFailure::kNone;
}

template <class Stream>
Task<beast::error_code> WriteAndReadHeader(Stream& stream,
                                           UpstreamConnection& conn,
                                           const std::string& head,
                                           const std::string& body,
                                           bool yield_before_answer) {
  // One gather write (one syscall) for the request line, header and body;
  // on a plain connection straight from here when the socket takes it all.
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head),
                                                  asio::buffer(body)};
  // The caller's first-byte timer covers the write.
  if (beast::error_code wec = co_await WriteAll(stream, buffers)) co_return wec;
  if (yield_before_answer) co_await YieldThread();
  conn.parser.emplace();
  conn.parser->body_limit(boost::none);
  co_return co_await ReadParsed(stream, conn.buffer, *conn.parser,
                                /*header_only=*/true);
}

// Body bytes the read buffer already holds, parsed into data[0, size): the
// count produced, 0 when none complete a piece of body (the caller then reads
// from the socket).
std::size_t ParseBufferedBody(UpstreamConnection& conn, char* data,
                              std::size_t size, beast::error_code& ec) {
  conn.parser->SetBodyBuffer(data, size);
  ParseBuffered(*conn.parser, conn.buffer, ec);
  return size - conn.parser->body_space();
}

}  // namespace

std::string SerializeRequestHead(const UpstreamRequest& upstream,
                                 std::size_t body_size) {
  char length[24];
  auto [end, ec] = std::to_chars(length, length + sizeof length, body_size);
  std::string head;
  head.reserve(upstream.head.size() + 40);
  head.append(upstream.head)
      .append("Content-Length: "sv)
      .append(length, end)
      .append("\r\n\r\n"sv);
  return head;
}

UpstreamPool::UpstreamPool(IoExecutor executor, asio::ssl::context& tls)
    : executor_(std::move(executor)), tls_(tls) {}

UpstreamPool::~UpstreamPool() { Clear(); }

std::unique_ptr<UpstreamConnection> UpstreamPool::TakeIdle(
    const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  auto now = CoarseSteadyNow();  // idle ages are seconds
  while (!list.empty()) {
    std::unique_ptr<UpstreamConnection> conn = std::move(list.back());
    list.pop_back();
    if (now - conn->idle_since < kMaxIdle && conn->is_open()) return conn;
    conn->Close();
  }
  return nullptr;
}

void UpstreamPool::PutIdle(std::unique_ptr<UpstreamConnection> connection) {
  auto& list = idle_[connection->key];
  if (list.size() >= kMaxIdlePerHost) {
    connection->Close();
    return;
  }
  connection->idle_since = CoarseSteadyNow();
  connection->parser.reset();
  list.push_back(std::move(connection));
}

void UpstreamPool::Clear() {
  for (auto& [key, list] : idle_) {
    for (auto& conn : list) conn->Close();
  }
  idle_.clear();
}

UpstreamExchange::UpstreamExchange(UpstreamPool& pool,
                                   UpstreamTimeouts timeouts)
    : pool_(pool), timeouts_(timeouts) {}

UpstreamExchange::~UpstreamExchange() {
  if (connection_ == nullptr) return;
  bool reusable = !cancelled_ && connection_->parser.has_value() &&
                  connection_->parser->is_done() &&
                  connection_->parser->keep_alive() &&
                  connection_->buffer.size() == 0 && connection_->is_open();
  if (reusable) {
    pool_.PutIdle(std::move(connection_));
  } else {
    connection_->Close();
  }
}

Task<UpstreamFailure> UpstreamExchange::Start(const UpstreamRequest& upstream,
                                              std::string body,
                                              bool yield_before_answer) {
  const UpstreamEndpoint& endpoint = *upstream.endpoint;
  const std::string head = SerializeRequestHead(upstream, body.size());

  for (int attempt = 0; attempt < 2; ++attempt) {
    if (cancelled_) co_return UpstreamFailure::kCancelled;
    connection_ = attempt == 0 ? pool_.TakeIdle(endpoint.pool_key) : nullptr;
    const bool reused = connection_ != nullptr;
    if (!reused) {
      connection_ = std::make_unique<UpstreamConnection>(pool_.executor(),
                                                         pool_.tls(), endpoint);
      UpstreamFailure failure = co_await Connect(
          *connection_, endpoint, timeouts_.connect, cancelled_, error_detail_);
      if (failure != UpstreamFailure::kNone) co_return failure;
    }
    connection_->buffer.clear();
    connection_->deadline->ExpiresAfter(timeouts_.first_byte);
    beast::error_code ec =
        connection_->secure
            ? co_await WriteAndReadHeader(*connection_->secure, *connection_,
                                          head, body, yield_before_answer)
            : co_await WriteAndReadHeader(*connection_->plain, *connection_,
                                          head, body, yield_before_answer);
    if (!ec) co_return UpstreamFailure::kNone;
    if (cancelled_) co_return UpstreamFailure::kCancelled;
    if (connection_->deadline->expired()) {
      error_detail_ = "exchange: timed out";
      co_return UpstreamFailure::kTimeout;
    }
    error_detail_ = "exchange: " + ec.message();
    // A pooled connection the server closed meanwhile fails before any
    // response byte: the request was not processed, so resend it once on a
    // fresh connection.
    bool nothing_received =
        !connection_->parser.has_value() || !connection_->parser->got_some();
    connection_->Close();
    connection_.reset();
    if (!(reused && nothing_received)) co_return UpstreamFailure::kBadResponse;
  }
  co_return UpstreamFailure::kBadResponse;
}

int UpstreamExchange::status() const { return connection_->parser->status(); }

const HeaderFields& UpstreamExchange::headers() const {
  return connection_->parser->fields();
}

Task<absl::StatusOr<std::size_t>> UpstreamExchange::ReadSome(char* data,
                                                             std::size_t size) {
  while (true) {
    if (cancelled_) {
      last_failure_ = UpstreamFailure::kCancelled;
      co_return absl::CancelledError("cancelled");
    }
    if (connection_->parser->is_done()) co_return std::size_t{0};
    beast::error_code pec;
    const std::size_t parsed = ParseBufferedBody(*connection_, data, size, pec);
    if (pec) {
      last_failure_ = UpstreamFailure::kBadResponse;
      co_return absl::UnavailableError("upstream body is malformed: " +
                                       pec.message());
    }
    if (parsed > 0 || connection_->parser->is_done()) co_return parsed;
    connection_->deadline->ExpiresAfter(timeouts_.idle);
    beast::error_code ec =
        connection_->secure
            ? co_await ReadOnce(*connection_->secure, connection_->buffer,
                                *connection_->parser)
            : co_await ReadOnce(*connection_->plain, connection_->buffer,
                                *connection_->parser);
    if (ec) {
      if (cancelled_) {
        last_failure_ = UpstreamFailure::kCancelled;
        co_return absl::CancelledError("cancelled");
      }
      if (connection_->deadline->expired()) {
        last_failure_ = UpstreamFailure::kTimeout;
        co_return absl::DeadlineExceededError("upstream body stalled");
      }
      last_failure_ = UpstreamFailure::kBadResponse;
      co_return absl::UnavailableError("upstream body read failed: " +
                                       ec.message());
    }
  }
}

Task<absl::StatusOr<std::string>> UpstreamExchange::ReadAll(std::size_t limit) {
  // Read straight into the result (no bounce buffer in the coroutine frame):
  // sized from Content-Length when the upstream sent one.
  std::string body;
  std::size_t size = 0;
  if (auto length = connection_->parser->content_length();
      length.has_value() && *length < limit) {
    body.resize(static_cast<std::size_t>(*length));
  }
  // Checked first: a body that exactly filled its Content-Length sizing must
  // not be grown (and copied) only to learn that it is complete.
  while (!connection_->parser->is_done()) {
    if (body.size() == size) body.resize(std::max<std::size_t>(4096, 2 * size));
    absl::StatusOr<std::size_t> n =
        co_await ReadSome(body.data() + size, body.size() - size);
    if (!n.ok()) co_return n.status();
    if (*n == 0) break;
    if (size + *n > limit) {
      last_failure_ = UpstreamFailure::kBadResponse;
      co_return absl::ResourceExhaustedError("upstream response too large");
    }
    size += *n;
  }
  body.resize(size);
  co_return body;
}

void UpstreamExchange::Cancel() {
  cancelled_ = true;
  if (connection_ != nullptr) connection_->Close();
}

}  // namespace llmproxy::dataplane
