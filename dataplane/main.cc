// llm-proxy-dataplane: the OpenAI-compatible proxy. Serves client traffic
// from an in-memory config snapshot that the control plane pushes (and that
// survives restarts on disk), so the hot path never waits on the control
// plane.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/admin_http_server.h"
#include "common/crypto/sha256.h"
#include "common/grpc_log.h"
#include "common/grpc_tls.h"
#include "common/log.h"
#include "dataplane/config_subscriber.h"
#include "dataplane/http_server.h"
#include "dataplane/metrics/dataplane_metrics.h"
#include "dataplane/snapshot_file.h"
#include "dataplane/snapshot_holder.h"
#include "dataplane/usable_cpus.h"
#include "dataplane/usage/usage_reporter.h"
#include "prometheus/registry.h"

#ifndef LLMPROXY_VERSION
#define LLMPROXY_VERSION "0.0.0"
#endif

namespace {

using llmproxy::dataplane::ConfigSubscriber;
using llmproxy::dataplane::ConfigSubscriberOptions;
using llmproxy::dataplane::HttpServer;
using llmproxy::dataplane::HttpServerOptions;
using llmproxy::dataplane::SnapshotFile;
using llmproxy::dataplane::SnapshotHolder;
using llmproxy::dataplane::UsableCpus;
namespace log = llmproxy::log;

constexpr auto kShutdownGrace = std::chrono::seconds(30);
// How long the usage reporter may try to deliver what is queued on shutdown;
// the rest stays in the spool for the next start.
constexpr auto kUsageShutdownDeadline = std::chrono::seconds(5);

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "dataplane";
  return name;
}

struct Flags {
  std::string listen_address = "0.0.0.0:8080";
  std::string admin_address = "0.0.0.0:9090";
  std::string controlplane_address = "127.0.0.1:50051";
  std::string dataplane_token;
  std::string node_id;
  int threads = 0;
  std::string snapshot_path = "data/dataplane-snapshot.bin";
  std::string encryption_key;
  std::string master_key;
  int64_t max_body_bytes = 10485760;
  int64_t upstream_connect_timeout_ms = 5000;
  int64_t upstream_timeout_ms = 600000;
  int64_t idle_timeout_ms = 60000;
  int64_t default_max_tokens = 1024;
  // Empty: usage-spool.bin beside --snapshot-path (data/usage-spool.bin with
  // the default snapshot path), so data planes with their own snapshot
  // directory never share a spool.
  std::string usage_spool_path;
  int64_t usage_spool_max_bytes = 268435456;
  std::string log_level = "info";
  llmproxy::GrpcClientTls controlplane_tls;
};

std::string UsageSpoolPath(const Flags& flags) {
  if (!flags.usage_spool_path.empty()) return flags.usage_spool_path;
  std::filesystem::path dir =
      std::filesystem::path(flags.snapshot_path).parent_path();
  return (dir / "usage-spool.bin").string();
}

int Serve(const Flags& flags) {
  if (!log::SetMinLevel(flags.log_level)) {
    std::cerr << "--log-level must be debug, info, warn or error\n";
    return 2;
  }
  llmproxy::RouteGrpcLogsToJson();
  // Signals are taken by sigwait below; block them before any thread starts
  // so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto controlplane_credentials =
      llmproxy::MakeChannelCredentials(flags.controlplane_tls);
  if (!controlplane_credentials.ok()) {
    log::Error(
        "refusing to start: unusable control-plane TLS settings",
        {{"error", std::string(controlplane_credentials.status().message())}});
    return 2;
  }

  SnapshotHolder holder;
  auto box = llmproxy::dataplane::LoadOrCreateSnapshotKey(
      flags.encryption_key, flags.snapshot_path + ".key");
  if (!box.ok()) {
    log::Error("unusable snapshot encryption key",
               {{"error", std::string(box.status().message())}});
    return 1;
  }
  SnapshotFile file(flags.snapshot_path, *std::move(box));

  ConfigSubscriberOptions sub;
  std::vector<std::string> addresses =
      absl::StrSplit(flags.controlplane_address, ',', absl::SkipEmpty());
  for (std::string& a : addresses) {
    absl::StripAsciiWhitespace(&a);
    if (!a.empty()) sub.addresses.push_back(a);
  }
  sub.dataplane_token = flags.dataplane_token;
  sub.credentials = *controlplane_credentials;
  sub.tls = flags.controlplane_tls;
  sub.node_id = flags.node_id.empty() ? HostName() : flags.node_id;
  sub.advertised_address = flags.listen_address;
  sub.version = LLMPROXY_VERSION;
  auto registry = std::make_shared<prometheus::Registry>();
  llmproxy::dataplane::DataplaneMetrics metrics(*registry);
  sub.on_applied = [&metrics](int64_t revision) {
    metrics.SetConfigRevision(revision);
  };
  sub.on_push = [&metrics](bool accepted) {
    metrics.RecordConfigPush(accepted);
  };
  ConfigSubscriber subscriber(sub, holder, &file);

  auto persisted = file.Load();
  if (persisted.ok()) {
    std::string revision = std::to_string(persisted->revision());
    if (absl::Status seeded = subscriber.Seed(*std::move(persisted));
        seeded.ok()) {
      log::Info("serving the persisted config until the control plane answers",
                {{"revision", revision}, {"path", flags.snapshot_path}});
    } else {
      log::Warn("ignoring the persisted config",
                {{"error", std::string(seeded.message())}});
    }
  } else if (!absl::IsNotFound(persisted.status())) {
    log::Warn("ignoring the persisted config",
              {{"error", std::string(persisted.status().message())}});
  }

  llmproxy::dataplane::UsageReporterOptions usage_options;
  usage_options.controlplane_addresses = sub.addresses;
  usage_options.token = flags.dataplane_token;
  usage_options.credentials = *controlplane_credentials;
  usage_options.dataplane_id = sub.node_id;
  usage_options.spool_path = UsageSpoolPath(flags);
  usage_options.spool_max_bytes = flags.usage_spool_max_bytes;
  std::unique_ptr<llmproxy::dataplane::UsageReporter> usage;
  if (sub.addresses.empty()) {
    log::Warn("no control-plane address; usage records are not reported");
  } else {
    auto reporter = llmproxy::dataplane::UsageReporter::Start(
        std::move(usage_options), registry.get());
    if (!reporter.ok()) {
      log::Error("cannot start the usage reporter",
                 {{"error", std::string(reporter.status().message())}});
      return 1;
    }
    usage = *std::move(reporter);
  }

  HttpServerOptions options;
  options.listen_address = flags.listen_address;
  options.threads = flags.threads > 0 ? flags.threads : UsableCpus();
  options.max_body_bytes = static_cast<std::size_t>(flags.max_body_bytes);
  options.idle_timeout = std::chrono::milliseconds(flags.idle_timeout_ms);
  options.upstream_connect_timeout =
      std::chrono::milliseconds(flags.upstream_connect_timeout_ms);
  options.upstream_first_byte_timeout =
      std::chrono::milliseconds(flags.upstream_timeout_ms);
  if (!flags.master_key.empty()) {
    options.handler.master_key_sha256 = llmproxy::Sha256Hex(flags.master_key);
  }
  options.handler.default_max_tokens = flags.default_max_tokens;
  options.metrics = &metrics;
  options.node_id = sub.node_id;
  if (usage != nullptr) {
    options.on_usage = [reporter = usage.get()](std::string record) {
      reporter->Enqueue(std::move(record));
    };
  }
  HttpServer server(options, holder);
  if (absl::Status s = server.Start(); !s.ok()) {
    log::Error("cannot start the client API",
               {{"error", std::string(s.message())}});
    return 1;
  }
  // Last: once /readyz answers, the client API is listening.
  llmproxy::AdminHttpServer admin(flags.admin_address, registry,
                                  [&holder] { return holder.loaded(); });
  if (absl::Status s = admin.Start(); !s.ok()) {
    log::Error("cannot start the admin endpoint",
               {{"error", std::string(s.message())}});
    return 1;
  }

  subscriber.Start();
  log::Info("llm-proxy-dataplane serving",
            {{"listen_address", flags.listen_address},
             {"port", std::to_string(server.port())},
             {"admin_port", std::to_string(admin.port())},
             {"node_id", sub.node_id},
             {"controlplane_tls", flags.controlplane_tls.on() ? "on" : "off"},
             {"threads", std::to_string(options.threads)},
             {"version", LLMPROXY_VERSION}});

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  log::Info("shutting down: draining in-flight requests",
            {{"signal", std::to_string(signal_number)}});
  server.Shutdown(kShutdownGrace);
  // Every finished request has enqueued its record by now.
  if (usage != nullptr) usage->Shutdown(kUsageShutdownDeadline);
  subscriber.Stop();
  admin.Stop();
  log::Info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"llm-proxy data plane: OpenAI-compatible LLM gateway"};
  app.set_version_flag("--version", std::string(LLMPROXY_VERSION));
  app.add_option("--listen-address", flags.listen_address,
                 "Client API address host:port")
      ->envname("LLMPROXY_LISTEN_ADDRESS")
      ->capture_default_str();
  app.add_option("--admin-address", flags.admin_address,
                 "/metrics /healthz /readyz address host:port")
      ->envname("LLMPROXY_ADMIN_ADDRESS")
      ->capture_default_str();
  app.add_option("--controlplane-address", flags.controlplane_address,
                 "Control-plane gRPC address(es), comma-separated")
      ->envname("LLMPROXY_CONTROLPLANE_ADDRESS")
      ->capture_default_str();
  app.add_option("--dataplane-token", flags.dataplane_token,
                 "Token presented to the control plane")
      ->envname("LLMPROXY_DATAPLANE_TOKEN");
  app.add_flag("--controlplane-tls", flags.controlplane_tls.enabled,
               "TLS to the control plane, checked against the system's CA "
               "store (implied by the three --controlplane-tls-* files)")
      ->envname("LLMPROXY_CONTROLPLANE_TLS");
  app.add_option("--controlplane-tls-ca", flags.controlplane_tls.ca_file,
                 "PEM CA certificates the control plane's certificate is "
                 "checked against (instead of the system's)")
      ->envname("LLMPROXY_CONTROLPLANE_TLS_CA");
  app.add_option("--controlplane-tls-cert", flags.controlplane_tls.cert_file,
                 "PEM client certificate chain, for a control plane that "
                 "asks for one (mutual TLS)")
      ->envname("LLMPROXY_CONTROLPLANE_TLS_CERT");
  app.add_option("--controlplane-tls-key", flags.controlplane_tls.key_file,
                 "PEM private key of --controlplane-tls-cert")
      ->envname("LLMPROXY_CONTROLPLANE_TLS_KEY");
  app.add_option("--node-id", flags.node_id,
                 "Identity in the fleet (default: host name)")
      ->envname("LLMPROXY_NODE_ID");
  app.add_option("--threads", flags.threads,
                 "I/O threads (default: the CPUs this process may use: its CPU "
                 "affinity, lowered to its cgroup's CPU limit)")
      ->envname("LLMPROXY_THREADS");
  app.add_option("--snapshot-path", flags.snapshot_path,
                 "Last-known-good config file (sealed)")
      ->envname("LLMPROXY_SNAPSHOT_PATH")
      ->capture_default_str();
  app.add_option("--encryption-key", flags.encryption_key,
                 "Key sealing the snapshot (64 hex or base64 of 32 bytes; "
                 "generated beside the snapshot if empty)")
      ->envname("LLMPROXY_ENCRYPTION_KEY");
  app.add_option("--master-key", flags.master_key,
                 "A key that may call every model")
      ->envname("LLMPROXY_MASTER_KEY");
  app.add_option("--max-body-bytes", flags.max_body_bytes,
                 "Largest request body accepted (413 above)")
      ->envname("LLMPROXY_MAX_BODY_BYTES")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--upstream-connect-timeout-ms",
                 flags.upstream_connect_timeout_ms,
                 "Upstream connect + TLS handshake timeout")
      ->envname("LLMPROXY_UPSTREAM_CONNECT_TIMEOUT_MS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--upstream-timeout-ms", flags.upstream_timeout_ms,
                 "Time allowed until the upstream's first response byte")
      ->envname("LLMPROXY_UPSTREAM_TIMEOUT_MS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--idle-timeout-ms", flags.idle_timeout_ms,
                 "Idle timeout of client keep-alive and upstream reads")
      ->envname("LLMPROXY_IDLE_TIMEOUT_MS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--default-max-tokens", flags.default_max_tokens,
                 "Completion tokens reserved against token limits for a "
                 "request without max_tokens")
      ->envname("LLMPROXY_DEFAULT_MAX_TOKENS")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--usage-spool-path", flags.usage_spool_path,
                 "Usage records not yet acked by the control plane "
                 "(default: usage-spool.bin beside --snapshot-path, i.e. "
                 "data/usage-spool.bin)")
      ->envname("LLMPROXY_USAGE_SPOOL_PATH");
  app.add_option("--usage-spool-max-bytes", flags.usage_spool_max_bytes,
                 "Bound of the usage spool file")
      ->envname("LLMPROXY_USAGE_SPOOL_MAX_BYTES")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--log-level", flags.log_level, "debug|info|warn|error")
      ->envname("LLMPROXY_LOG_LEVEL")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  return Serve(flags);
}
