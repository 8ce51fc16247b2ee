// Data-plane side of a big config (issue 4, item 6): time and memory to
// apply a full snapshot of 100,000 virtual keys and 10,000 models (parse the
// push from the wire, build the request-ready snapshot, swap it in), and
// proof that the request path is not blocked meanwhile: client threads run
// requests through the real handler (HandleClientRequest against the
// snapshot they take from the holder) the whole time, and their latency while
// snapshots are applied is compared with their latency while none is.
//
//   ninja -C <build> dataplane_apply_bench && <build>/bin/dataplane_apply_bench
//       [--keys N] [--models N] [--connections N] [--repeat N] [--clients N]
//
// The config has the shape of bench/config/snapshot_bench.cc's: every key
// has key-wide limits (10 % with a budget) and one assignment to one model
// with its own token limit.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/sha256.h"
#include "dataplane/config_subscriber.h"
#include "dataplane/deployment_selector.h"
#include "dataplane/request_handler.h"
#include "dataplane/snapshot_holder.h"
#include "dataplane/virtual_key_auth.h"
#include "llmproxy/v1/config_service.pb.h"

namespace llmproxy::dataplane {
namespace {

using Clock = std::chrono::steady_clock;

long StatusKib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) {
      return std::atol(line.c_str() + std::strlen(field));
    }
  }
  return 0;
}

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

v1::StreamConfigResponse MakePush(int keys, int models, int connections,
                                  int64_t revision) {
  v1::StreamConfigResponse push;
  push.set_revision(revision);
  v1::ConfigSnapshot& s = *push.mutable_snapshot();
  s.set_revision(revision);
  s.set_fleet_size(1);
  for (int i = 0; i < connections; ++i) {
    v1::Connection& c = *s.add_connections();
    c.set_id(absl::StrCat("cn_", i));
    c.set_name(absl::StrCat("conn-", i));
    c.set_provider("openai_compatible");
    c.set_endpoint(
        absl::StrCat("http://10.0.", i / 250, ".", i % 250, ":8000/v1"));
    c.set_api_key(absl::StrCat("sk-provider-", i));
  }
  for (int i = 0; i < models; ++i) {
    v1::Model& m = *s.add_models();
    m.set_id(absl::StrCat("md_", i));
    m.set_name(absl::StrCat("model-", i));
    m.set_remote_model(absl::StrCat("remote-", i));
    m.set_connection_id(absl::StrCat("cn_", i % connections));
    m.set_input_price_per_million(1.5);
    m.set_output_price_per_million(6);
    m.set_weight(1);
  }
  for (int i = 0; i < keys; ++i) {
    v1::VirtualKey& k = *s.add_virtual_keys();
    k.set_id(absl::StrCat("vk_", i));
    k.set_name(absl::StrCat("key-", i));
    k.set_key_sha256(Sha256Hex(absl::StrCat("sk-lp-bench-", i)));
    k.set_key_prefix("sk-lp-benc…");
    k.mutable_limits()->set_requests_per_second(1e6);
    if (i % 10 == 0) {
      k.mutable_limits()->set_budget_usd(1e6);
      k.mutable_limits()->set_budget_period(i % 20 == 0 ? "day" : "month");
      v1::BudgetSpend& b = *s.add_budget_spend();
      b.set_virtual_key_id(k.id());
      b.set_spent_usd(1);
    }
    (*k.mutable_metadata())["team"] = absl::StrCat("team-", i % 100);
    v1::Assignment& a = *s.add_assignments();
    a.set_id(absl::StrCat("as_", i));
    a.set_virtual_key_id(k.id());
    a.set_model_id(absl::StrCat("md_", i % models));
    a.mutable_limits()->set_tokens_per_minute(1000000000);
  }
  return push;
}

struct Percentiles {
  std::size_t n = 0;
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
};

Percentiles Summarise(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))];
  };
  p.n = v.size();
  p.p50 = at(0.5);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = v.back();
  return p;
}

int Run(int argc, char** argv) {
  int keys = 100000, models = 10000, connections = 100, repeat = 5, clients = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--keys") keys = std::atoi(argv[i + 1]);
    if (flag == "--models") models = std::atoi(argv[i + 1]);
    if (flag == "--connections") connections = std::atoi(argv[i + 1]);
    if (flag == "--repeat") repeat = std::atoi(argv[i + 1]);
    if (flag == "--clients") clients = std::atoi(argv[i + 1]);
  }
  const long rss_start = StatusKib("VmRSS:");

  // What the gRPC stream hands the subscriber: the push's wire form.
  std::string wire;
  MakePush(keys, models, connections, 1).SerializeToString(&wire);
  const long rss_wire = StatusKib("VmRSS:");

  SnapshotHolder holder;
  ConfigSubscriber subscriber(ConfigSubscriberOptions{}, holder, nullptr);

  // One apply as the subscriber thread does it: parse the push, build the
  // snapshot, swap it in. Returns {parse ms, build + swap ms}.
  auto apply = [&](int64_t revision) {
    auto t0 = Clock::now();
    v1::StreamConfigResponse push;
    push.ParseFromString(wire);
    push.set_revision(revision);
    auto t1 = Clock::now();
    absl::Status s = subscriber.Apply(std::move(push));
    auto t2 = Clock::now();
    if (!s.ok()) {
      std::fprintf(stderr, "apply failed: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    return std::pair<double, double>{Ms(t1 - t0), Ms(t2 - t1)};
  };

  auto [first_parse, first_build] = apply(1);
  const long rss_one = StatusKib("VmRSS:");

  // Client threads: requests through the handler, each with its own key.
  std::atomic<bool> stop{false};
  std::atomic<int> phase{0};  // 0 warm-up, 1 quiet, 2 applying, 3 done
  struct Samples {
    std::vector<double> quiet, applying;
    std::size_t ok = 0, refused = 0;
  };
  std::vector<Samples> samples(clients);
  HandlerOptions options;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      Samples& mine = samples[c];
      uint64_t i = static_cast<uint64_t>(c) * 7919;
      std::string body, key;
      while (!stop.load(std::memory_order_relaxed)) {
        const uint64_t k = i++ % keys;
        key = absl::StrCat("sk-lp-bench-", k);
        body =
            absl::StrCat(R"({"model":"model-)", k % models,
                         R"(","messages":[{"role":"user","content":"hello"}],)",
                         R"("max_tokens":16})");
        const int ph = phase.load(std::memory_order_relaxed);
        auto start = Clock::now();
        {
          ConfigSnapshotPtr snapshot = holder.Get();
          HandlerResult result = HandleClientRequest(
              ClientRequest{"POST", "/v1/chat/completions", key, body},
              snapshot, options, std::chrono::system_clock::now(),
              FastRandomBelow);
          if (std::holds_alternative<ProxyPlan>(result)) {
            ++mine.ok;
          } else {
            ++mine.refused;
          }
          // The plan (and its snapshot reference) dies here, as at the end
          // of a request.
        }
        const double us =
            std::chrono::duration<double, std::micro>(Clock::now() - start)
                .count();
        if (ph == 1) mine.quiet.push_back(us);
        if (ph == 2) mine.applying.push_back(us);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  phase.store(1);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  phase.store(2);
  std::vector<double> parse_ms, build_ms;
  long rss_peak = 0;
  for (int r = 0; r < repeat; ++r) {
    auto [p, b] = apply(2 + r);
    parse_ms.push_back(p);
    build_ms.push_back(b);
    rss_peak = std::max(rss_peak, StatusKib("VmRSS:"));
  }
  phase.store(3);
  stop.store(true);
  for (auto& t : threads) t.join();

  std::vector<double> quiet, applying;
  std::size_t ok = 0, refused = 0;
  for (auto& s : samples) {
    quiet.insert(quiet.end(), s.quiet.begin(), s.quiet.end());
    applying.insert(applying.end(), s.applying.begin(), s.applying.end());
    ok += s.ok;
    refused += s.refused;
  }
  auto report_ms = [](const char* step, std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::printf("%-40s min %7.1f  median %7.1f  max %7.1f ms\n", step,
                v.front(), v[v.size() / 2], v.back());
  };
  std::printf(
      "snapshot: %d virtual keys (+%d assignments), %d models, %d "
      "connections; %zu bytes on the wire\n",
      keys, keys, models, connections, wire.size());
  std::printf(
      "first apply (empty data plane): parse %.1f ms, build + swap "
      "%.1f ms\n",
      first_parse, first_build);
  report_ms("replace (parse push from the wire)", parse_ms);
  report_ms("replace (build + swap, Apply)", build_ms);
  std::vector<double> total;
  for (std::size_t i = 0; i < parse_ms.size(); ++i) {
    total.push_back(parse_ms[i] + build_ms[i]);
  }
  report_ms("replace (total)", total);
  std::printf(
      "rss: start %ld KiB, + wire %ld KiB, one applied snapshot (incl. the "
      "proto the subscriber keeps) +%ld KiB, peak while replacing %ld KiB, "
      "VmHWM %ld KiB\n",
      rss_start, rss_wire - rss_start, rss_one - rss_wire, rss_peak,
      StatusKib("VmHWM:"));
  Percentiles q = Summarise(quiet), a = Summarise(applying);
  std::printf(
      "request path (%d client thread(s), HandleClientRequest incl. "
      "key hash, lookup, body scan, limits; %zu plans, %zu refusals)\n",
      clients, ok, refused);
  std::printf(
      "  no apply running: n=%zu p50 %.1f us p99 %.1f us p99.9 %.1f "
      "us max %.1f us\n",
      q.n, q.p50, q.p99, q.p999, q.max);
  std::printf(
      "  while applying:   n=%zu p50 %.1f us p99 %.1f us p99.9 %.1f "
      "us max %.1f us\n",
      a.n, a.p50, a.p99, a.p999, a.max);
  return 0;
}

}  // namespace
}  // namespace llmproxy::dataplane

int main(int argc, char** argv) { return llmproxy::dataplane::Run(argc, argv); }
