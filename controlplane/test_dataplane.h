#pragma once

// A data plane's end of a config stream, for tests: it says hello with the
// revision it holds, applies each push (snapshot or delta) as the real data
// plane does, and answers it with an ACK, or a NACK when the test tells it
// to reject that push. Pushes are read on a background thread, so a test can
// wait for a condition with a deadline without ending the stream.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/config_delta.h"
#include "grpcpp/client_context.h"
#include "llmproxy/v1/config_service.grpc.pb.h"

namespace llmproxy::controlplane::testing {

class FakeDataPlane {
 public:
  // What the data plane has seen so far.
  struct State {
    // The config applied now (revision 0 and empty before the first one).
    v1::ConfigSnapshot config;
    bool has_config = false;
    // Every push received, in order.
    std::vector<v1::StreamConfigResponse> pushes;
    // Revisions it NACKed.
    std::vector<int64_t> nacked;
    // The stream ended (by the server or by Close()).
    bool ended = false;
  };
  // Returns a NACK reason for a push the data plane must reject, or "".
  using Rejecter = std::function<std::string(const v1::StreamConfigResponse&)>;

  FakeDataPlane(v1::ConfigDiscoveryService::Stub& stub, std::string node_id,
                const std::string& token,
                std::optional<v1::ConfigSnapshot> seed = std::nullopt)
      : node_id_(std::move(node_id)) {
    if (seed) {
      state_.config = *seed;
      state_.has_config = true;
    }
    if (!token.empty()) {
      context_.AddMetadata("authorization", "Bearer " + token);
    }
    context_.set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(60));
    stream_ = stub.StreamConfig(&context_);
    v1::StreamConfigRequest hello;
    hello.set_node_id(node_id_);
    hello.set_address("10.0.0.7:8080");
    hello.set_version("test-1");
    hello.set_applied_revision(seed ? seed->revision() : 0);
    // Not checked: a refused stream may be closed before the hello goes out.
    stream_->Write(hello);
    reader_ = std::thread([this] { ReadLoop(); });
  }

  ~FakeDataPlane() { Close(); }

  FakeDataPlane(const FakeDataPlane&) = delete;
  FakeDataPlane& operator=(const FakeDataPlane&) = delete;

  void RejectWhen(Rejecter rejecter) {
    std::lock_guard<std::mutex> lock(mu_);
    rejecter_ = std::move(rejecter);
  }

  // Waits until `done(state)` holds or `timeout` passes; returns whether it
  // holds.
  bool WaitFor(const std::function<bool(const State&)>& done,
               std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return done(state_); });
  }

  // Waits until the applied config reaches `revision`.
  bool WaitForRevision(int64_t revision, std::chrono::milliseconds timeout) {
    return WaitFor(
        [&](const State& s) {
          return s.has_config && s.config.revision() >= revision;
        },
        timeout);
  }

  // Waits until `count` pushes have arrived.
  bool WaitForPushes(std::size_t count, std::chrono::milliseconds timeout) {
    return WaitFor([&](const State& s) { return s.pushes.size() >= count; },
                   timeout);
  }

  State state() const {
    std::lock_guard<std::mutex> lock(mu_);
    return state_;
  }
  v1::ConfigSnapshot config() const { return state().config; }
  std::vector<v1::StreamConfigResponse> pushes() const {
    return state().pushes;
  }
  v1::StreamConfigResponse last_push() const {
    State s = state();
    return s.pushes.empty() ? v1::StreamConfigResponse() : s.pushes.back();
  }

  // Ends the stream; returns the server's status.
  grpc::Status Close() {
    if (closed_) return status_;
    closed_ = true;
    if (!state().ended) context_.TryCancel();
    if (reader_.joinable()) reader_.join();
    status_ = stream_->Finish();
    return status_;
  }

  // Waits for the server to end the stream; returns its status.
  grpc::Status Finish(std::chrono::milliseconds timeout) {
    WaitFor([](const State& s) { return s.ended; }, timeout);
    return Close();
  }

 private:
  // Applies `push` to the state; returns a NACK reason or "".
  std::string Apply(const v1::StreamConfigResponse& push) {
    if (rejecter_) {
      std::string reason = rejecter_(push);
      if (!reason.empty()) return reason;
    }
    if (push.has_snapshot()) {
      state_.config = push.snapshot();
    } else if (push.has_delta()) {
      if (!state_.has_config) return "delta without a config to apply it to";
      absl::StatusOr<v1::ConfigSnapshot> next =
          ApplyConfigDelta(state_.config, push.delta(), push.revision());
      if (!next.ok()) return std::string(next.status().message());
      state_.config = *std::move(next);
    } else {
      return "push carries neither snapshot nor delta";
    }
    state_.config.set_revision(push.revision());
    state_.has_config = true;
    return "";
  }

  void ReadLoop() {
    v1::StreamConfigResponse push;
    while (stream_->Read(&push)) {
      v1::StreamConfigRequest answer;
      answer.set_node_id(node_id_);
      answer.set_response_revision(push.revision());
      {
        std::lock_guard<std::mutex> lock(mu_);
        state_.pushes.push_back(push);
        std::string reason = Apply(push);
        if (!reason.empty()) {
          answer.set_error_detail(reason);
          state_.nacked.push_back(push.revision());
        }
        answer.set_applied_revision(state_.has_config ? state_.config.revision()
                                                      : 0);
      }
      changed_.notify_all();
      if (!stream_->Write(answer)) break;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      state_.ended = true;
    }
    changed_.notify_all();
  }

  const std::string node_id_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::StreamConfigRequest,
                                           v1::StreamConfigResponse>>
      stream_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  State state_;
  Rejecter rejecter_;
  std::thread reader_;
  bool closed_ = false;
  grpc::Status status_;
};

}  // namespace llmproxy::controlplane::testing
