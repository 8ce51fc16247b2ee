// Control-plane side of a big config: time and memory to load, index, build
// and serialise the data planes' snapshot of 100,000 virtual keys and 10,000
// models (plus deltas and budget figures over it).
//
//   controlplane_config_bench [--keys N] [--models N] [--connections N]
//       [--database-url URL] [--repeat N]
// Default database: an SQLite file under /tmp, created (slowly: one
// transaction per row, as the admin API does) on the first run and reused.

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crypto/secret_box.h"
#include "common/crypto/sha256.h"
#include "controlplane/config_cache.h"
#include "controlplane/snapshot_builder.h"
#include "controlplane/store/store.h"
#include "llmproxy/v1/config_service.pb.h"

namespace llmproxy::controlplane {
namespace {

// Fixed, so a reused database can still be opened.
constexpr char kKey[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

long RssKib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0)
      return std::atol(line.c_str() + strlen(field));
  }
  return 0;
}

double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

template <typename F>
double Time(F&& f) {
  auto start = std::chrono::steady_clock::now();
  f();
  return Ms(std::chrono::steady_clock::now() - start);
}

int Fail(const absl::Status& s) {
  std::cerr << s << "\n";
  return 1;
}

int Run(int argc, char** argv) {
  int keys = 100000, models = 10000, connections = 100, repeat = 5;
  std::string url;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--keys") keys = std::atoi(argv[i + 1]);
    if (flag == "--models") models = std::atoi(argv[i + 1]);
    if (flag == "--connections") connections = std::atoi(argv[i + 1]);
    if (flag == "--repeat") repeat = std::atoi(argv[i + 1]);
    if (flag == "--database-url") url = argv[i + 1];
  }
  if (url.empty()) {
    url = absl::StrCat("sqlite:///tmp/llmproxy-config-bench-", keys, "keys-",
                       models, "models-", connections, "conns.db");
  }
  absl::StatusOr<SecretBox> box = SecretBox::FromKeyMaterial(kKey);
  if (!box.ok()) return Fail(box.status());
  absl::StatusOr<StorePtr> opened = OpenStore(url);
  if (!opened.ok()) return Fail(opened.status());
  Store& store = **opened;
  if (absl::Status s = store.Migrate(); !s.ok()) return Fail(s);

  absl::StatusOr<int64_t> revision = store.GetRevision();
  if (!revision.ok()) return Fail(revision.status());
  if (*revision == 0) {
    std::cerr << "populating " << url << " (one transaction per row)...\n";
    auto start = std::chrono::steady_clock::now();
    std::vector<std::string> connection_ids;
    for (int i = 0; i < connections; ++i) {
      v1::Connection c;
      c.set_name(absl::StrCat("conn-", i));
      c.set_provider("openai_compatible");
      c.set_endpoint(
          absl::StrCat("http://10.0.", i / 250, ".", i % 250, ":8000/v1"));
      c.set_api_key(box->Seal(absl::StrCat("sk-provider-", i)));
      c.set_api_key_masked("sk-…");
      absl::StatusOr<v1::Connection> created = store.CreateConnection(c);
      if (!created.ok()) return Fail(created.status());
      connection_ids.push_back(created->id());
    }
    std::vector<std::string> model_ids;
    for (int i = 0; i < models; ++i) {
      v1::Model m;
      m.set_name(absl::StrCat("model-", i));
      m.set_remote_model(absl::StrCat("remote-", i));
      m.set_connection_id(connection_ids[i % connections]);
      m.set_input_price_per_million(1.5);
      m.set_output_price_per_million(6);
      absl::StatusOr<v1::Model> created = store.CreateModel(m);
      if (!created.ok()) return Fail(created.status());
      model_ids.push_back(created->id());
    }
    for (int i = 0; i < keys; ++i) {
      v1::VirtualKey k;
      k.set_name(absl::StrCat("key-", i));
      k.set_key_sha256(Sha256Hex(absl::StrCat("sk-lp-bench-", i)));
      k.set_key_prefix("sk-lp-benc…");
      k.mutable_limits()->set_requests_per_second(10);
      if (i % 10 == 0) {
        k.mutable_limits()->set_budget_usd(100);
        k.mutable_limits()->set_budget_period(i % 20 == 0 ? "day" : "month");
      }
      (*k.mutable_metadata())["team"] = absl::StrCat("team-", i % 100);
      absl::StatusOr<v1::VirtualKey> created = store.CreateVirtualKey(k);
      if (!created.ok()) return Fail(created.status());
      v1::Assignment a;
      a.set_virtual_key_id(created->id());
      a.set_model_id(model_ids[i % models]);
      a.mutable_limits()->set_tokens_per_minute(100000);
      if (absl::StatusOr<v1::Assignment> as = store.CreateAssignment(a);
          !as.ok()) {
        return Fail(as.status());
      }
      if (i % 10000 == 0) std::cerr << "  " << i << " keys\n";
    }
    std::cerr << "populated in "
              << Ms(std::chrono::steady_clock::now() - start) / 1000 << " s\n";
  }

  const long rss_before = RssKib("VmRSS:");
  std::printf("database: %s\n", url.c_str());
  std::printf("step,ms_min,ms_median,ms_max\n");
  auto report = [](const char* step, std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::printf("%s,%.1f,%.1f,%.1f\n", step, v.front(), v[v.size() / 2],
                v.back());
  };
  std::vector<double> load, index, figures, build_push, serialise, delta;
  std::size_t bytes = 0;
  int snapshot_keys = 0, snapshot_models = 0;
  long rss_peak_delta = 0;
  for (int r = 0; r < repeat; ++r) {
    absl::StatusOr<v1::ConfigSnapshot> snapshot;
    load.push_back(Time([&] { snapshot = LoadDataPlaneConfig(store, *box); }));
    if (!snapshot.ok()) return Fail(snapshot.status());
    snapshot_keys = snapshot->virtual_keys_size();
    snapshot_models = snapshot->models_size();
    PublishedConfigPtr config;
    index.push_back(
        Time([&] { config = MakePublishedConfig(*std::move(snapshot)); }));
    absl::StatusOr<std::vector<v1::BudgetSpend>> spend;
    figures.push_back(Time([&] {
      spend = ComputeBudgetSpend(store, config->budget_owners, absl::Now());
    }));
    if (!spend.ok()) return Fail(spend.status());
    v1::StreamConfigResponse push;
    build_push.push_back(Time([&] {
      push.set_revision(config->revision());
      *push.mutable_snapshot() = config->snapshot;
      for (const auto& row : *spend)
        *push.mutable_snapshot()->add_budget_spend() = row;
    }));
    std::string wire;
    serialise.push_back(Time([&] { push.SerializeToString(&wire); }));
    bytes = wire.size();
    absl::StatusOr<std::optional<v1::ConfigDelta>> d;
    delta.push_back(Time(
        [&] { d = BuildConfigDelta(store, *config, config->revision() - 1); }));
    rss_peak_delta = std::max(rss_peak_delta, RssKib("VmRSS:") - rss_before);
  }
  report("load_from_store_and_open_keys", load);
  report("index_published_config", index);
  report("budget_figures", figures);
  report("copy_into_push", build_push);
  report("serialise_push", serialise);
  report("delta_of_one_change", delta);
  std::printf("snapshot: %d virtual keys, %d models, %zu bytes serialised\n",
              snapshot_keys, snapshot_models, bytes);
  std::printf(
      "rss: before %ld KiB, growth while building (config + push + wire) %ld "
      "KiB, peak (VmHWM) %ld KiB\n",
      rss_before, rss_peak_delta, RssKib("VmHWM:"));
  return 0;
}

}  // namespace
}  // namespace llmproxy::controlplane

int main(int argc, char** argv) {
  return llmproxy::controlplane::Run(argc, argv);
}
