// Cost of the limit check on the data plane's hot path: key lookup in a
// snapshot of 100,000 virtual keys, the grant and assignment lookup, and
// Admission::TryAdmit + Settle against the key's and the assignment's limits
// (requests, tokens, concurrency and budget all configured, none refusing).
// Also: how long building such a snapshot and a budget refresh take.
//
//   ninja -C <build> limits_bench && <build>/bin/limits_bench

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto/sha256.h"
#include "dataplane/config_snapshot.h"
#include "dataplane/limits/admission.h"
#include "dataplane/limits/clock.h"
#include "dataplane/limits/limit_registry.h"
#include "llmproxy/v1/config_service.pb.h"

namespace {

using llmproxy::dataplane::Admission;
using llmproxy::dataplane::ConfigSnapshot;
using llmproxy::dataplane::ConfigSnapshotPtr;
using llmproxy::dataplane::LimitRefusal;
using llmproxy::dataplane::LimitRegistry;
using llmproxy::dataplane::LimitState;
using llmproxy::dataplane::SteadyClock;
using llmproxy::dataplane::VirtualKeyInfo;
namespace v1 = llmproxy::v1;
using Clock = std::chrono::steady_clock;

constexpr int kKeys = 100'000;

void SetLimits(v1::Limits* l) {
  l->set_requests_per_second(1e9);
  l->set_tokens_per_minute(1'000'000'000'000);
  l->set_max_concurrent(1'000'000);
  l->set_budget_usd(1e9);
}

v1::ConfigSnapshot MakeProto(std::vector<std::string>* shas) {
  v1::ConfigSnapshot s;
  s.set_revision(1);
  s.set_fleet_size(1);
  v1::Connection* c = s.add_connections();
  c->set_id("cn_1");
  c->set_name("cn_1");
  c->set_provider("openai");
  c->set_endpoint("http://127.0.0.1:9/v1");
  v1::Model* m = s.add_models();
  m->set_id("md_1");
  m->set_name("gpt");
  m->set_remote_model("gpt-4o");
  m->set_connection_id("cn_1");
  m->set_input_price_per_million(2.5);
  m->set_output_price_per_million(10);
  for (int i = 0; i < kKeys; ++i) {
    std::string id = "vk_" + std::to_string(i);
    v1::VirtualKey* k = s.add_virtual_keys();
    k->set_id(id);
    k->set_name(id);
    std::string sha = llmproxy::Sha256Hex("sk-lp-bench-" + std::to_string(i));
    k->set_key_sha256(sha);
    shas->push_back(sha);
    SetLimits(k->mutable_limits());
    v1::Assignment* a = s.add_assignments();
    a->set_id("as_" + std::to_string(i));
    a->set_virtual_key_id(id);
    a->set_model_id("md_1");
    SetLimits(a->mutable_limits());
    v1::BudgetSpend* spend = s.add_budget_spend();
    spend->set_virtual_key_id(id);
    spend->set_spent_usd(1);
  }
  return s;
}

// One request's limit work, as the handler does it.
inline bool OneRequest(const ConfigSnapshot& snap, const std::string& sha) {
  const VirtualKeyInfo* key = snap.FindKey(sha);
  auto grant = key->aliases.find("gpt");
  const auto* d = grant->second.deployments[0];
  const auto* assignment = grant->second.AssignmentFor(d);
  std::array<LimitState*, Admission::kMaxScopes> scopes = {
      snap.Limits(key->limit_slot), snap.Limits(assignment->limit_slot)};
  auto admitted = Admission::TryAdmit(scopes, 1100, 11'000);
  auto* a = std::get_if<Admission>(&admitted);
  if (a == nullptr) return false;
  a->Settle(900, 9'000);
  return true;  // ~Admission releases the concurrency slots
}

struct Result {
  double ns_per_request;      // per thread
  double million_per_second;  // all threads
};

Result Run(const ConfigSnapshot& snap, const std::vector<std::string>& shas,
           int threads, bool same_key) {
  constexpr auto kDuration = std::chrono::milliseconds(1500);
  std::atomic<bool> go{false};
  std::vector<int64_t> counts(threads);
  std::vector<double> ns(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(t + 1);
      // A shuffled sequence of keys (different keys per thread).
      std::vector<const std::string*> order(4096);
      for (auto& p : order) {
        p = same_key ? &shas[0] : &shas[rng() % shas.size()];
      }
      while (!go.load()) {
      }
      int64_t n = 0;
      const auto start = Clock::now();
      const auto end = start + kDuration;
      while (Clock::now() < end) {
        for (int i = 0; i < 1024; ++i) {
          if (!OneRequest(snap, *order[(n + i) & 4095])) std::abort();
        }
        n += 1024;
      }
      counts[t] = n;
      ns[t] = std::chrono::duration<double, std::nano>(Clock::now() - start)
                  .count() /
              static_cast<double>(n);
    });
  }
  go.store(true);
  for (auto& w : workers) w.join();
  Result r{0, 0};
  int64_t total = 0;
  for (int t = 0; t < threads; ++t) {
    r.ns_per_request += ns[t] / threads;
    total += counts[t];
  }
  r.million_per_second = total / (kDuration.count() / 1000.0) / 1e6;
  return r;
}

}  // namespace

int main() {
  std::vector<std::string> shas;
  v1::ConfigSnapshot proto = MakeProto(&shas);
  LimitRegistry registry(SteadyClock::Get());

  auto t0 = Clock::now();
  ConfigSnapshotPtr snap = *ConfigSnapshot::Build(proto, &registry);
  auto t1 = Clock::now();
  ConfigSnapshotPtr refreshed = snap->WithFleetFigures(
      proto.budget_spend(), proto.fleet_size(), &registry);
  auto t2 = Clock::now();
  // A rebuild with every bucket already live (a config push).
  ConfigSnapshotPtr rebuilt = *ConfigSnapshot::Build(proto, &registry);
  auto t3 = Clock::now();
  // A budget push where every key's spend moved (the worst case).
  for (auto& spend : *proto.mutable_budget_spend()) spend.set_spent_usd(2);
  auto t4 = Clock::now();
  ConfigSnapshotPtr moved = snap->WithFleetFigures(
      proto.budget_spend(), proto.fleet_size(), &registry);
  auto t5 = Clock::now();
  auto ms = [](auto d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  std::printf("snapshot with %d keys + %d assignments, all limited\n", kKeys,
              kKeys);
  std::printf("  first Build:                     %8.1f ms\n", ms(t1 - t0));
  std::printf("  Build again (buckets reused):    %8.1f ms\n", ms(t3 - t2));
  std::printf("  budget push, no figure moved:    %8.1f ms\n", ms(t2 - t1));
  std::printf("  budget push, every figure moved: %8.1f ms\n", ms(t5 - t4));

  // Warm up.
  Run(*snap, shas, 1, false);
  std::printf(
      "\nlimit check per request (FindKey + grant + TryAdmit(key, "
      "assignment) + Settle + release)\n");
  std::printf("  %-34s %10s %14s\n", "case", "ns/request", "M requests/s");
  struct Case {
    const char* name;
    int threads;
    bool same_key;
  } cases[] = {
      {"1 thread, random keys", 1, false},
      {"1 thread, one key", 1, true},
      {"2 threads, different keys", 2, false},
      {"2 threads, same key (contended)", 2, true},
  };
  for (const Case& c : cases) {
    Result r = Run(*snap, shas, c.threads, c.same_key);
    std::printf("  %-34s %10.1f %14.2f\n", c.name, r.ns_per_request,
                r.million_per_second);
  }
  return 0;
}
