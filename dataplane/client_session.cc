#include "dataplane/client_session.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <string>
#include <utility>

#include "boost/asio/bind_cancellation_slot.hpp"
#include "boost/asio/cancellation_signal.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "common/log.h"
#include "dataplane/ascii.h"
#include "dataplane/buffered_parse.h"
#include "dataplane/coarse_clock.h"
#include "dataplane/deployment_selector.h"
#include "dataplane/http_read.h"
#include "dataplane/nonblocking_write.h"
#include "dataplane/request_id.h"
#include "dataplane/request_router.h"
#include "dataplane/sse_parser.h"
#include "dataplane/virtual_key_auth.h"

namespace llmproxy::dataplane {

using std::string_view_literals::operator""sv;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kHeaderLimit = 64 * 1024;

// Upstream response headers not to copy to the client: hop-by-hop ones, the
// framing the proxy redoes itself, and the upstream's own request id.
bool IsHopHeader(std::string_view name) {
  static constexpr std::string_view kDropped[] = {
      "connection",        "keep-alive", "proxy-authenticate",
      "proxy-connection",  "te",         "trailer",
      "transfer-encoding", "upgrade",    "content-length",
      "x-request-id",
  };
  for (std::string_view d : kDropped) {
    if (EqualsIgnoreCase(name, d)) return true;
  }
  return false;
}

template <class Message>
void CopyUpstreamHeaders(const HeaderFields& from, Message& to) {
  for (const auto [name, value] : from) {
    if (IsHopHeader(name)) continue;
    to.insert(name, value);
  }
}

// Appends "Name: value\r\n". Plain appends into the reserved head: the
// Abseil of Debian 12 grows a StrAppend target by zero-filling it first, which
// cost more than the appends' extra size checks.
void AppendField(std::string& out, std::string_view name,
                 std::string_view value) {
  out.append(name).append(": "sv).append(value).append("\r\n"sv);
}

void AppendDecimal(std::string& out, std::size_t n) {
  char digits[20];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, n).ptr);
}

}  // namespace

// Counts a request in SessionWorker::requests_in_flight while it lives.
class InFlightRequest {
 public:
  explicit InFlightRequest(int& count) : count_(count) { ++count_; }
  ~InFlightRequest() { --count_; }
  InFlightRequest(const InFlightRequest&) = delete;
  InFlightRequest& operator=(const InFlightRequest&) = delete;

 private:
  int& count_;
};

struct ClientWatch {
  ClientSession* session = nullptr;  // null when no request is upstream
  uint64_t generation = 0;  // which request the delay and the peek belong to
  bool armed = false;       // the peek is pending
  asio::cancellation_signal cancel;
  char peeked = 0;  // MSG_PEEK's target: the byte stays in the socket
};

void DelayedWatches::Add(std::shared_ptr<ClientWatch> watch) {
  const uint64_t generation = watch->generation;
  const Clock::time_point due = CoarseSteadyNow() + kDelay;
  entries_.push_back(Entry{std::move(watch), generation, due});
  if (!waiting_) Wait(due);
}

void DelayedWatches::Wait(Clock::time_point due) {
  waiting_ = true;
  timer_.expires_at(due);
  timer_.async_wait(
      [this](const boost::system::error_code& ec) { OnTimer(ec); });
}

void DelayedWatches::OnTimer(const boost::system::error_code& ec) {
  waiting_ = false;
  if (ec) return;  // shutting down
  const Clock::time_point now = Clock::now();
  while (!entries_.empty() && entries_.front().due <= now) {
    Entry entry = std::move(entries_.front());
    entries_.pop_front();
    ClientWatch& watch = *entry.watch;
    if (watch.session != nullptr && watch.generation == entry.generation) {
      watch.session->ArmWatch();
    }
  }
  // At most one tick per kDelay: under load a request is due every few
  // microseconds, and a timer armed for each would cost a system call each.
  if (!entries_.empty()) Wait(std::max(entries_.front().due, now + kDelay));
}

ClientSession::ClientSession(TcpSocket socket, SessionSettings& settings,
                             SessionWorker& worker)
    : socket_(std::move(socket)),
      deadline_(socket_.get_executor(), socket_),
      settings_(settings),
      worker_(worker) {
  settings_.active_sessions.fetch_add(1);
  worker_.sessions.insert(this);
}

ClientSession::~ClientSession() {
  if (watch_ != nullptr) watch_->session = nullptr;
  worker_.sessions.erase(this);
  settings_.active_sessions.fetch_sub(1);
}

void ClientSession::CloseIfIdle() {
  if (!idle_) return;
  beast::error_code ec;
  socket_.cancel(ec);
  socket_.close(ec);
}

void ClientSession::Abort() {
  if (exchange_ != nullptr) exchange_->Cancel();
  beast::error_code ec;
  socket_.cancel(ec);
  socket_.close(ec);
}

Task<void> ClientSession::Run() {
  beast::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  // WriteNow writes from the coroutine itself: the socket must never block
  // the thread. (Asynchronous operations are unaffected.)
  socket_.non_blocking(true, ec);
  try {
    while (!settings_.stopping.load()) {
      // Waiting for the next request happens in ReadParsed's small frame:
      // an idle keep-alive connection holds that one, not ServeOne's.
      PrepareForRequest();
      if (buffer_.size() == 0 && worker_.requests_in_flight > 0) {
        co_await YieldThread();
      }
      beast::error_code hec = co_await ReadParsed(socket_, buffer_, *parser_,
                                                  /*header_only=*/true);
      if (!co_await ServeOne(hec)) break;
    }
  } catch (const std::exception& e) {
    log::Debug("client session ended", {{"error", e.what()}});
  }
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  socket_.close(ec);
}

void ClientSession::PrepareForRequest() {
  idle_ = true;
  // Between requests a connection keeps no read buffer: an idle keep-alive
  // connection costs as little as possible. (Bytes of a pipelined request
  // stay.)
  if (buffer_.size() == 0) buffer_.shrink_to_fit();
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  parser_->body_limit(settings_.max_body_bytes);
  deadline_.ExpiresAfter(settings_.idle_timeout);
}

Task<bool> ClientSession::ServeOne(beast::error_code hec) {
  InFlightRequest in_flight(worker_.requests_in_flight);
  idle_ = false;
  started_ = std::chrono::steady_clock::now();
  started_wall_ = std::chrono::system_clock::now();
  response_started_ = false;
  client_gone_ = false;
  model_.clear();
  deployment_id_ = {};
  key_id_.clear();
  key_name_.clear();
  provider_ = {};
  ttft_seconds_ = -1;
  first_byte_seconds_ = -1;
  inference_ = false;
  finished_ = false;
  streamed_ = false;
  upstream_answered_ = false;
  remote_model_ = {};
  connection_id_ = {};
  assignment_id_.clear();
  refused_.reset();
  deployment_ = nullptr;
  admission_ = nullptr;
  rate_limit_headers_ = nullptr;
  estimate_ = {};
  usage_.reset();
  deltas_relayed_ = 0;
  // Beast checks Content-Length against the body limit with the header; a
  // malformed request line or header is said so. Either way, then hang up.
  if (hec == http::error::body_limit ||
      (hec.category() ==
           http::make_error_code(http::error::bad_target).category() &&
       hec != http::error::end_of_stream)) {
    co_return co_await RefuseUnreadRequest(hec);
  }
  if (hec) co_return false;
  RequestParser& header = *parser_;
  request_id_ = NewRequestId(started_wall_);
  client_request_id_ =
      ClientRequestId(header.fields().Get("x-client-request-id"));
  if (client_request_id_.empty()) {
    client_request_id_ = ClientRequestId(header.fields().Get("x-request-id"));
  }
  // Assigned, not replaced: the strings keep their capacity between requests.
  method_.assign(header.method_string());
  path_.assign(header.target().substr(0, header.target().find('?')));
  head_ = header.method() == http::verb::head;
  keep_alive_ = header.keep_alive();
  inference_ = MatchRoute(header.method_string(), header.target()).kind ==
               RouteKind::kProxy;

  if (auto length = parser_->content_length();
      length && *length > settings_.max_body_bytes) {
    // Refuse before reading the body; the unread body makes the connection
    // unusable for another request.
    co_return co_await RefuseTooLarge();
  }
  if (EqualsIgnoreCase(header.fields().Get("expect"), "100-continue") &&
      !co_await SendContinue()) {
    co_return false;
  }
  // The body is usually in the buffer already (it came with the header):
  // parse it from there without another asynchronous read.
  beast::error_code bec;
  ParseBuffered(*parser_, buffer_, bec);
  if (!bec && !parser_->is_done()) {
    deadline_.ExpiresAfter(settings_.idle_timeout);
    bec = co_await ReadParsed(socket_, buffer_, *parser_,
                              /*header_only=*/false);
  }
  if (bec == http::error::body_limit) co_return co_await RefuseTooLarge();
  if (bec) co_return false;
  deadline_.ExpiresNever();
  if (settings_.stopping.load()) keep_alive_ = false;
  co_await Dispatch(*parser_);
  co_return keep_alive_ && !client_gone_;
}

// The refusals and the interim response of ServeOne are coroutines of their
// own: the error (four strings) and the response object they build then live
// in their frames, only when used, not in ServeOne's, which every request
// allocates (and which Asio recycles only below about 1 KiB).

Task<bool> ClientSession::RefuseUnreadRequest(beast::error_code header_error) {
  request_id_ = NewRequestId(started_wall_);
  client_request_id_.clear();
  method_ = "-";
  path_ = "-";
  keep_alive_ = false;
  head_ = false;
  if (header_error == http::error::body_limit) {
    co_await WriteError(RequestTooLarge(settings_.max_body_bytes));
  } else {
    co_await WriteError(
        BadRequest("Malformed HTTP request: " + header_error.message()));
  }
  co_return false;
}

Task<bool> ClientSession::RefuseTooLarge() {
  keep_alive_ = false;
  co_await WriteError(RequestTooLarge(settings_.max_body_bytes));
  co_return false;
}

Task<bool> ClientSession::SendContinue() {
  http::response<http::empty_body> cont{http::status::continue_, 11};
  deadline_.ExpiresAfter(settings_.idle_timeout);
  auto [ec, n] = co_await http::async_write(socket_, cont, kUseTuple);
  co_return !ec;
}

Task<void> ClientSession::Dispatch(RequestParser& request) {
  const std::string_view api_key =
      ExtractApiKey([&](std::string_view name) -> std::string_view {
        return request.fields().Get(name);
      });
  ClientRequest client{request.method_string(), request.target(), api_key,
                       request.body(), &key_hasher_};
  // The one snapshot reference this request uses from start to end.
  ConfigSnapshotPtr snapshot = settings_.holder.Get();
  RequestInfo info;
  HandlerResult result =
      HandleClientRequest(client, snapshot, settings_.handler, started_wall_,
                          FastRandomBelow, &info);
  model_ = std::move(info.model);
  key_id_ = std::move(info.virtual_key_id);
  key_name_ = std::move(info.virtual_key_name);
  assignment_id_ = std::move(info.assignment_id);
  refused_ = info.refused;
  if (auto* direct = std::get_if<DirectResponse>(&result)) {
    if (refused_.has_value() && settings_.metrics != nullptr) {
      settings_.metrics->RecordLimitRejection(LimitKindName(*refused_));
    }
    co_await WriteDirect(*direct);
    co_return;
  }
  ProxyPlan& plan = std::get<ProxyPlan>(result);
  admission_ = plan.admission.has_value() ? &*plan.admission : nullptr;
  rate_limit_headers_ = &plan.rate_limit_headers;
  estimate_ = plan.estimate;
  // The body is no longer needed once spliced into each attempt.
  request.body().clear();
  request.body().shrink_to_fit();
  if (settings_.metrics != nullptr) settings_.metrics->AddActiveRequests(1);
  co_await Proxy(plan);
  // Whatever path ended the request, it is settled and recorded once.
  if (!finished_) Finish(client_gone_ ? 499 : 502);
  admission_ = nullptr;
  rate_limit_headers_ = nullptr;
  if (settings_.metrics != nullptr) settings_.metrics->AddActiveRequests(-1);
}

Task<void> ClientSession::WriteDirect(const DirectResponse& direct) {
  http::response<http::string_body> res{
      static_cast<http::status>(direct.status), 11};
  res.set(http::field::content_type, "application/json");
  SetRequestIdHeaders(res);
  for (const auto& [name, value] : direct.headers) res.set(name, value);
  res.body() = direct.body;
  res.keep_alive(keep_alive_);
  res.prepare_payload();
  if (head_) res.body().clear();
  response_started_ = true;
  first_byte_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_)
          .count();
  deadline_.ExpiresAfter(settings_.idle_timeout);
  auto [ec, n] = co_await http::async_write(socket_, res, kUseTuple);
  if (ec) client_gone_ = true;
  Finish(direct.status);
}

Task<void> ClientSession::WriteError(const ApiError& error) {
  co_await WriteDirect(ErrorResponse(error));
}

Task<void> ClientSession::Proxy(ProxyPlan& plan) {
  StartWatch();
  co_await ProxyAttempts(plan);
  StopWatch();
  if (client_gone_ && !response_started_) {
    // Nginx's convention for "client closed the request".
    Finish(499);
  }
  exchange_.reset();
}

void ClientSession::StartWatch() {
  if (watch_ == nullptr) watch_ = std::make_shared<ClientWatch>();
  watch_->session = this;
  ++watch_->generation;
  worker_.watches.Add(watch_);
}

void ClientSession::StopWatch() {
  watch_->session = nullptr;
  if (watch_->armed) {
    watch_->armed = false;
    watch_->cancel.emit(asio::cancellation_type::all);
  }
}

void ClientSession::ArmWatch() {
  std::shared_ptr<ClientWatch> watch = watch_;
  const uint64_t generation = watch->generation;
  watch->armed = true;
  // A peek, not a read: nothing is taken from the socket, so a completion
  // that arrives after the request is over loses no bytes. Asio tries it
  // once at once (a failed recvfrom when nothing is there) and then waits
  // for readability; a readiness wait would cost an epoll_ctl instead.
  socket_.async_receive(
      asio::buffer(&watch->peeked, 1), tcp::socket::message_peek,
      asio::bind_cancellation_slot(
          watch->cancel.slot(),
          [watch, generation](const boost::system::error_code& ec,
                              std::size_t) {
            if (watch->generation != generation) return;
            watch->armed = false;
            if (watch->session == nullptr) return;
            watch->session->OnClientReadable(ec);
          }));
}

void ClientSession::OnClientReadable(const boost::system::error_code& ec) {
  if (ec == asio::error::operation_aborted) return;
  if (ec) {
    // End of stream or a reset: the client went away.
    client_gone_ = true;
    if (exchange_ != nullptr) exchange_->Cancel();
  }
  // Otherwise bytes of a pipelined next request are waiting; they stay in the
  // socket for the next ServeOne, and the rest of this request goes
  // unwatched (a client that pipelines does not hang up mid-request).
}

Task<void> ClientSession::ProxyAttempts(ProxyPlan& plan) {
  for (std::size_t i = 0; i < plan.attempts.size(); ++i) {
    ProxyAttempt& attempt = plan.attempts[i];
    const bool last = i + 1 == plan.attempts.size();
    const ConnectionInfo& connection = *attempt.deployment->connection;
    UpstreamTimeouts timeouts = settings_.upstream;
    if (connection.timeout_ms > 0) {
      timeouts.first_byte = std::chrono::milliseconds(connection.timeout_ms);
    }
    deployment_id_ = attempt.deployment->model_id;
    deployment_ = attempt.deployment;
    remote_model_ = attempt.deployment->remote_model;
    connection_id_ = connection.id;
    if (attempt.assignment != nullptr) {
      assignment_id_ = attempt.assignment->id;
    }
    provider_ = connection.provider;
    exchange_ = std::make_unique<UpstreamExchange>(*worker_.pool, timeouts);
    // Yield before the answer when requests other than this one (which
    // counts itself) are in flight on the thread.
    UpstreamFailure failure =
        co_await exchange_->Start(*attempt.request, std::move(attempt.body),
                                  /*yield_before_answer=*/
                                  worker_.requests_in_flight > 1);
    if (failure == UpstreamFailure::kCancelled || client_gone_) co_return;
    const bool retryable =
        failure == UpstreamFailure::kConnect ||
        failure == UpstreamFailure::kConnectTimeout ||
        (failure == UpstreamFailure::kNone && exchange_->status() >= 500);
    if (settings_.metrics != nullptr) {
      switch (failure) {
        case UpstreamFailure::kNone:
          if (exchange_->status() >= 500) {
            settings_.metrics->RecordUpstreamError(provider_, "status_5xx");
          }
          break;
        case UpstreamFailure::kConnect:
          settings_.metrics->RecordUpstreamError(provider_, "connect");
          break;
        case UpstreamFailure::kConnectTimeout:
        case UpstreamFailure::kTimeout:
          settings_.metrics->RecordUpstreamError(provider_, "timeout");
          break;
        case UpstreamFailure::kBadResponse:
          settings_.metrics->RecordUpstreamError(provider_, "protocol");
          break;
        case UpstreamFailure::kCancelled:
          break;
      }
    }
    if (retryable && !last) {
      if (settings_.metrics != nullptr) {
        settings_.metrics->RecordUpstreamRetry(provider_);
      }
      log::Warn("upstream attempt failed; trying the next deployment",
                {{"request_id", request_id_},
                 {"model_id", deployment_id_},
                 {"connection_id", connection.id},
                 {"status", failure == UpstreamFailure::kNone
                                ? std::to_string(exchange_->status())
                                : exchange_->error_detail()}});
      exchange_.reset();
      continue;
    }
    if (failure != UpstreamFailure::kNone) {
      log::Warn("upstream request failed",
                {{"request_id", request_id_},
                 {"model_id", deployment_id_},
                 {"connection_id", connection.id},
                 {"error", exchange_->error_detail()}});
    }
    switch (failure) {
      case UpstreamFailure::kNone:
        break;
      case UpstreamFailure::kConnect:
        co_await WriteError(UpstreamConnectFailed(
            "Could not connect to the provider of model '" + plan.alias +
            "'."));
        co_return;
      case UpstreamFailure::kConnectTimeout:
      case UpstreamFailure::kTimeout:
        co_await WriteError(UpstreamTimeout("The provider of model '" +
                                            plan.alias +
                                            "' did not answer in "
                                            "time."));
        co_return;
      default:
        co_await WriteError(BadUpstreamResponse("The provider of model '" +
                                                plan.alias +
                                                "' sent a broken response."));
        co_return;
    }
    const int status = exchange_->status();
    upstream_answered_ = status < 400;
    std::string_view content_type = exchange_->headers().Get("content-type");
    if (StartsWithIgnoreCase(content_type, "text/event-stream")) {
      streamed_ = true;
      if (settings_.metrics != nullptr) settings_.metrics->AddActiveStreams(1);
      co_await RelayStream(status, plan.strip_usage_chunk);
      if (settings_.metrics != nullptr) settings_.metrics->AddActiveStreams(-1);
      // Settled, logged and counted once the stream is over.
      Finish(status);
    } else {
      co_await RelayWhole(status);
    }
    co_return;
  }
}

Task<void> ClientSession::RelayWhole(int status) {
  absl::StatusOr<std::string> body =
      co_await exchange_->ReadAll(settings_.max_upstream_body_bytes);
  if (!body.ok()) {
    if (exchange_->last_failure() == UpstreamFailure::kCancelled) co_return;
    if (exchange_->last_failure() == UpstreamFailure::kTimeout) {
      co_await WriteError(UpstreamTimeout("The provider stopped answering."));
    } else {
      co_await WriteError(
          BadUpstreamResponse("The provider sent a broken response."));
    }
    co_return;
  }
  // The response header, serialised here rather than through http::response:
  // no per-field allocations, and header + body leave in one write. The
  // headers are those http::response::set produced: the upstream's minus
  // hop-by-hop ones and the ones the proxy sets itself.
  const HeaderList* limits = rate_limit_headers_;
  auto ours = [&](std::string_view name) {
    if (EqualsIgnoreCase(name, "x-request-id")) return true;
    if (!client_request_id_.empty() &&
        EqualsIgnoreCase(name, "x-client-request-id")) {
      return true;
    }
    if (limits != nullptr) {
      for (const auto& [limit_name, value] : *limits) {
        if (EqualsIgnoreCase(name, limit_name)) return true;
      }
    }
    return false;
  };
  std::string head;
  head.reserve(512);
  const beast::string_view reason =
      http::obsolete_reason(static_cast<http::status>(status));
  head.append("HTTP/1.1 "sv);
  AppendDecimal(head, static_cast<std::size_t>(status));
  head.append(" "sv).append(reason.data(), reason.size()).append("\r\n"sv);
  for (const auto [name, value] : exchange_->headers()) {
    if (IsHopHeader(name) || ours(name)) continue;
    AppendField(head, name, value);
  }
  AppendField(head, "x-request-id", request_id_);
  if (!client_request_id_.empty()) {
    AppendField(head, "x-client-request-id", client_request_id_);
  }
  if (limits != nullptr) {
    // Later entries of the same name replace earlier ones (set semantics).
    for (std::size_t i = 0; i < limits->size(); ++i) {
      bool replaced = false;
      for (std::size_t j = i + 1; j < limits->size(); ++j) {
        replaced |= EqualsIgnoreCase((*limits)[i].first, (*limits)[j].first);
      }
      if (!replaced) AppendField(head, (*limits)[i].first, (*limits)[i].second);
    }
  }
  head.append("Content-Length: "sv);
  AppendDecimal(head, body->size());
  head.append(keep_alive_ ? "\r\n\r\n"sv : "\r\nConnection: close\r\n\r\n"sv);
  response_started_ = true;
  first_byte_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_)
          .count();
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head),
                                                  asio::buffer(*body)};
  deadline_.ExpiresAfter(settings_.idle_timeout);
  if (co_await WriteAll(socket_, buffers)) client_gone_ = true;
  deadline_.ExpiresNever();
  // The provider's usage, found without parsing the rest of the body, and
  // after the answer has left: the client does not wait for the accounting.
  usage_ = ExtractUsage(*body);
  Finish(status);
}

Task<void> ClientSession::RelayStream(int status, bool strip_usage) {
  http::response<http::empty_body> res{static_cast<http::status>(status), 11};
  CopyUpstreamHeaders(exchange_->headers(), res);
  SetRequestIdHeaders(res);
  if (rate_limit_headers_ != nullptr) {
    for (const auto& [name, value] : *rate_limit_headers_) res.set(name, value);
  }
  res.set(http::field::cache_control, "no-cache");
  res.keep_alive(keep_alive_);
  res.chunked(true);
  http::response_serializer<http::empty_body> serializer{res};
  response_started_ = true;
  deadline_.ExpiresAfter(settings_.idle_timeout);
  auto [hec, hn] =
      co_await http::async_write_header(socket_, serializer, kUseTuple);
  if (hec) {
    client_gone_ = true;
    exchange_->Cancel();
    co_return;
  }
  SseParser parser;
  std::string chunk(16384, '\0');
  while (true) {
    absl::StatusOr<std::size_t> n =
        co_await exchange_->ReadSome(chunk.data(), chunk.size());
    if (!n.ok()) {
      // The status line is gone already: end the response without its final
      // chunk, so the client sees a truncated stream rather than a clean end.
      log::Warn("upstream stream broke",
                {{"request_id", request_id_},
                 {"error", std::string(n.status().message())}});
      keep_alive_ = false;
      co_return;
    }
    if (*n == 0) break;
    // Relay each complete event the moment it is complete; one write per
    // event, and TCP_NODELAY sends it without waiting for more.
    for (SseEvent& event : parser.Feed(std::string_view(chunk.data(), *n))) {
      // Only a chunk carrying a usage object can be the usage-only one.
      bool usage_only = false;
      if (event.data.find("\"usage\"") != std::string::npos) {
        if (auto usage = ExtractUsage(event.data)) {
          usage_ = usage;
          usage_only = IsUsageOnlyChunk(event.data);
        }
        if (strip_usage) {
          // The proxy asked for usage, not the client: drop the usage-only
          // chunk and the "usage":null the provider added to the others.
          if (usage_only) continue;
          if (auto stripped = StripNullUsage(event.data)) {
            if (std::size_t at = event.raw.find(event.data);
                at != std::string::npos) {
              event.raw.replace(at, event.data.size(), *stripped);
              event.data = *std::move(stripped);
            }
          }
        }
      }
      const bool content =
          !usage_only && !event.data.empty() && event.data != "[DONE]";
      if (ttft_seconds_ < 0) {
        ttft_seconds_ = std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - started_)
                            .count();
        first_byte_seconds_ = ttft_seconds_;
      }
      deadline_.ExpiresAfter(settings_.idle_timeout);
      auto [wec, wn] = co_await asio::async_write(
          socket_, http::make_chunk(asio::buffer(event.raw)), kUseTuple);
      if (wec) {
        client_gone_ = true;
        exchange_->Cancel();
        co_return;
      }
      if (content) ++deltas_relayed_;
    }
  }
  std::string rest = parser.TakeRemainder();
  if (!rest.empty()) {
    deadline_.ExpiresAfter(settings_.idle_timeout);
    auto [rec, rn] = co_await asio::async_write(
        socket_, http::make_chunk(asio::buffer(rest)), kUseTuple);
    if (rec) {
      client_gone_ = true;
      co_return;
    }
  }
  deadline_.ExpiresAfter(settings_.idle_timeout);
  auto [lec, ln] =
      co_await asio::async_write(socket_, http::make_chunk_last(), kUseTuple);
  deadline_.ExpiresNever();
  if (lec) client_gone_ = true;
}

void ClientSession::Finish(int status) {
  if (finished_) return;
  finished_ = true;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_)
          .count();
  // What the request is charged for: the provider's usage when it reported
  // it; nothing when it failed before producing anything; for a stream
  // without a usage chunk (abandoned, or a provider ignoring include_usage),
  // the prompt estimate plus one token per content event relayed. A
  // non-streamed success without usage keeps its reservation.
  TokenUsage charged;
  bool known = true;
  if (usage_.has_value()) {
    charged = *usage_;
  } else if (!upstream_answered_) {
    charged = {};
  } else if (streamed_) {
    charged.prompt_tokens = estimate_.prompt;
    charged.completion_tokens = deltas_relayed_;
  } else {
    known = false;
  }
  const int64_t cost_micros =
      deployment_ != nullptr ? CostMicros(*deployment_, charged.prompt_tokens,
                                          charged.completion_tokens)
                             : 0;
  if (admission_ != nullptr && known) {
    admission_->Settle(charged.total(), cost_micros);
  }
  const double cost_usd = static_cast<double>(cost_micros) / 1e6;
  if (settings_.metrics != nullptr) {
    DataplaneMetrics::RequestOutcome outcome;
    outcome.virtual_key = key_name_;
    outcome.model = model_;
    outcome.provider = provider_;
    outcome.http_status = status;
    outcome.duration_seconds = seconds;
    outcome.time_to_first_token_seconds = ttft_seconds_;
    outcome.input_tokens = charged.prompt_tokens;
    outcome.output_tokens = charged.completion_tokens;
    outcome.cost_usd = cost_usd;
    settings_.metrics->RecordRequest(outcome);
  }
  if (log::Enabled(log::Level::kInfo)) {
    log::Info(
        "request",
        {{"request_id", request_id_},
         {"method", method_},
         {"path", path_},
         {"status", std::to_string(status)},
         {"model", model_},
         {"model_id", deployment_id_},
         {"virtual_key_id", key_id_},
         {"latency_ms", std::to_string(static_cast<int64_t>(seconds * 1000))}});
  }
  if (inference_ && settings_.on_usage) {
    RequestSummary summary;
    summary.request_id = request_id_;
    summary.virtual_key_id = key_id_;
    summary.model = model_;
    summary.remote_model = remote_model_;
    summary.connection_id = connection_id_;
    summary.assignment_id = assignment_id_;
    summary.endpoint = path_;
    summary.http_status = status;
    summary.refused = refused_;
    summary.client_abandoned = client_gone_;
    summary.streamed = streamed_;
    summary.prompt_tokens = charged.prompt_tokens;
    summary.completion_tokens = charged.completion_tokens;
    summary.cached_tokens = charged.cached_tokens;
    summary.cost_usd = cost_usd;
    summary.start_time = started_wall_;
    summary.latency_ms = seconds * 1000;
    summary.ttft_ms = first_byte_seconds_ < 0 ? 0 : first_byte_seconds_ * 1000;
    settings_.on_usage(SerializeUsageRecord(summary, settings_.node_id));
  }
}

}  // namespace llmproxy::dataplane
