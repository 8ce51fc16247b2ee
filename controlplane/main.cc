// llm-proxy-controlplane: the admin API, config distribution to data planes
// and usage ingestion, over PostgreSQL or an embedded SQLite file.

#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/admin_http_server.h"
#include "common/crypto/random.h"
#include "common/crypto/secret_box.h"
#include "common/grpc_log.h"
#include "common/grpc_tls.h"
#include "common/host_port.h"
#include "common/log.h"
#include "controlplane/controlplane_server.h"
#include "controlplane/store/store.h"
#include "prometheus/registry.h"

namespace llmproxy::controlplane {
namespace {

constexpr char kVersion[] = "0.1.0";
constexpr auto kShutdownGrace = std::chrono::seconds(5);

struct Flags {
  std::string grpc_address = "127.0.0.1:50051";
  std::string http_address = "127.0.0.1:9091";
  std::string database_url = "sqlite://data/llm-proxy.db";
  std::string admin_token;
  std::string dataplane_token;
  std::string encryption_key;
  std::string log_level = "info";
  int revision_poll_ms = 500;
  bool config_listen = true;
  int budget_refresh_ms = 1000;
  int fleet_heartbeat_ms = 2000;
  GrpcServerTls grpc_tls;
};

// Whether `address` ("host:port") only accepts local connections, where
// running without an admin token is an acceptable developer convenience.
bool IsLoopback(const std::string& address) {
  absl::StatusOr<HostPort> host_port = ParseHostPort(address);
  return host_port.ok() && IsLoopbackHost(host_port->host);
}

// The file path of an SQLite URL, or nullopt for another scheme.
std::optional<std::filesystem::path> SqlitePath(const std::string& url) {
  constexpr absl::string_view kScheme = "sqlite://";
  if (!absl::StartsWith(url, kScheme)) return std::nullopt;
  return std::filesystem::path(url.substr(kScheme.size()));
}

// The key material for SecretBox: the flag, or with SQLite a key generated
// once into <db dir>/encryption.key (0600), so a developer's first run just
// works and later runs can still open what the first one sealed.
absl::StatusOr<std::string> EncryptionKeyMaterial(const Flags& flags) {
  if (!flags.encryption_key.empty()) return flags.encryption_key;
  std::optional<std::filesystem::path> db = SqlitePath(flags.database_url);
  if (!db) {
    return absl::InvalidArgumentError(
        "--encryption-key (LLMPROXY_ENCRYPTION_KEY) is required with "
        "PostgreSQL: every control-plane replica must use the same key");
  }
  std::filesystem::path key_file = db->parent_path() / "encryption.key";
  if (std::ifstream in(key_file); in) {
    std::string material;
    std::getline(in, material);
    return std::string(absl::StripAsciiWhitespace(material));
  }
  std::string material = RandomHex(SecretBox::kKeySize);
  mode_t old_mask = ::umask(077);
  std::ofstream out(key_file);
  out << material << "\n";
  out.close();
  ::umask(old_mask);
  if (!out) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", key_file.string()));
  }
  std::filesystem::permissions(
      key_file,
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  log::Warn(
      "generated a new encryption key for provider keys at rest; back it "
      "up, or set --encryption-key, or stored provider keys become unreadable",
      {{"file", key_file.string()}});
  return material;
}

int Run(const Flags& flags) {
  if (!log::SetMinLevel(flags.log_level)) {
    std::cerr << "--log-level must be one of debug, info, warn, error\n";
    return 2;
  }
  RouteGrpcLogsToJson();
  if (flags.admin_token.empty() && !IsLoopback(flags.grpc_address)) {
    log::Error(
        "refusing to start: --grpc-address is not a loopback address and no "
        "--admin-token (LLMPROXY_ADMIN_TOKEN) is set, so anyone who can "
        "reach the port could administer the proxy",
        {{"grpc_address", flags.grpc_address}});
    return 2;
  }
  // Checked before the database is touched: a wrong file is a usage error.
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> grpc_credentials =
      MakeServerCredentials(flags.grpc_tls);
  if (!grpc_credentials.ok()) {
    log::Error("refusing to start: unusable gRPC TLS settings",
               {{"error", std::string(grpc_credentials.status().message())}});
    return 2;
  }
  const bool grpc_tls = !flags.grpc_tls.cert_file.empty();
  if (!grpc_tls && !IsLoopback(flags.grpc_address)) {
    log::Warn(
        "gRPC is plain text on a non-loopback address: tokens and the "
        "provider keys in config pushes cross the network unencrypted; set "
        "--grpc-tls-cert and --grpc-tls-key unless a mesh or tunnel "
        "encrypts it",
        {{"grpc_address", flags.grpc_address}});
  }
  if (std::optional<std::filesystem::path> db = SqlitePath(flags.database_url);
      db && db->has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(db->parent_path(), ec);
    if (ec) {
      log::Error(
          "cannot create the database directory",
          {{"dir", db->parent_path().string()}, {"error", ec.message()}});
      return 1;
    }
  }

  // The URL first: a malformed one is reported as such, not as a missing key.
  absl::StatusOr<StorePtr> store = OpenStore(flags.database_url);
  if (!store.ok()) {
    // The URL may hold a password: log the error, which the store keeps free
    // of credentials, not the URL.
    log::Error("cannot open the database",
               {{"error", store.status().ToString()}});
    // A malformed URL is a usage error; an unreachable database is not.
    return store.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }

  absl::StatusOr<std::string> material = EncryptionKeyMaterial(flags);
  if (!material.ok()) {
    log::Error("no encryption key", {{"error", material.status().ToString()}});
    return 2;
  }
  absl::StatusOr<SecretBox> secret_box = SecretBox::FromKeyMaterial(*material);
  if (!secret_box.ok()) {
    log::Error("bad encryption key",
               {{"error", secret_box.status().ToString()}});
    return 2;
  }

  if (absl::Status s = (*store)->Migrate(); !s.ok()) {
    log::Error("database migration failed", {{"error", s.ToString()}});
    return 1;
  }

  auto registry = std::make_shared<prometheus::Registry>();
  ControlPlaneOptions options;
  options.registry = registry;
  options.grpc_address = flags.grpc_address;
  options.admin_token = flags.admin_token;
  options.dataplane_token = flags.dataplane_token;
  options.grpc_credentials = *std::move(grpc_credentials);
  options.revision_poll_interval =
      std::chrono::milliseconds(flags.revision_poll_ms);
  options.budget_refresh_interval =
      std::chrono::milliseconds(flags.budget_refresh_ms);
  options.heartbeat_interval =
      std::chrono::milliseconds(flags.fleet_heartbeat_ms);
  if (flags.config_listen && !SqlitePath(flags.database_url)) {
    options.listen_database_url = flags.database_url;
  }
  if (options.admin_token.empty() && options.dataplane_token.empty()) {
    log::Warn(
        "no tokens set: gRPC calls are not authenticated (loopback only)");
  }
  ControlPlaneServer server(options, *std::move(store), *secret_box);
  if (absl::Status s = server.Start(); !s.ok()) {
    log::Error("cannot start gRPC server", {{"error", s.ToString()}});
    return 1;
  }

  AdminHttpServer http(flags.http_address, registry,
                       [&server] { return server.Ready(); });
  if (absl::Status s = http.Start(); !s.ok()) {
    log::Error("cannot start admin HTTP server", {{"error", s.ToString()}});
    server.Shutdown(std::chrono::milliseconds(0));
    return 1;
  }
  log::Info("llm-proxy-controlplane started",
            {{"version", kVersion},
             {"grpc_address", flags.grpc_address},
             {"grpc_port", absl::StrCat(server.port())},
             {"grpc_tls", !grpc_tls                               ? "off"
                          : flags.grpc_tls.client_ca_file.empty() ? "on"
                                                                  : "mutual"},
             {"http_address", flags.http_address},
             {"http_port", absl::StrCat(http.port())}});

  // Signals were blocked in main() before any thread started, so every
  // thread inherits the mask and only this sigwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  log::Info("shutting down", {{"signal", strsignal(signal_number)}});
  server.Shutdown(kShutdownGrace);
  http.Stop();
  log::Info("stopped");
  return 0;
}

}  // namespace
}  // namespace llmproxy::controlplane

int main(int argc, char** argv) {
  using llmproxy::controlplane::Flags;
  Flags flags;
  CLI::App app{
      "llm-proxy control plane: admin API, config distribution and "
      "usage ingestion",
      "llm-proxy-controlplane"};
  app.set_version_flag("--version", llmproxy::controlplane::kVersion);
  app.option_defaults()->always_capture_default();
  app.add_option("--grpc-address", flags.grpc_address,
                 "gRPC listen address (Admin, ConfigDiscovery, Usage, "
                 "reflection, health)")
      ->envname("LLMPROXY_GRPC_ADDRESS");
  app.add_option("--http-address", flags.http_address,
                 "HTTP listen address for /metrics /healthz /readyz")
      ->envname("LLMPROXY_HTTP_ADDRESS");
  app.add_option("--database-url", flags.database_url,
                 "postgresql://... | sqlite:///abs/path | sqlite://rel/path")
      ->envname("LLMPROXY_DATABASE_URL");
  app.add_option("--admin-token", flags.admin_token,
                 "bearer token for AdminService and QueryUsage (required "
                 "unless --grpc-address is loopback)")
      ->envname("LLMPROXY_ADMIN_TOKEN");
  app.add_option("--dataplane-token", flags.dataplane_token,
                 "bearer token data planes use for StreamConfig and "
                 "ReportUsage")
      ->envname("LLMPROXY_DATAPLANE_TOKEN");
  app.add_option("--encryption-key", flags.encryption_key,
                 "64 hex characters or base64 of 32 bytes; seals provider "
                 "keys at rest (generated into the SQLite directory if empty)")
      ->envname("LLMPROXY_ENCRYPTION_KEY");
  app.add_option("--log-level", flags.log_level, "debug|info|warn|error")
      ->envname("LLMPROXY_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_option("--revision-poll-ms", flags.revision_poll_ms,
                 "fallback poll of the config revision, for changes made "
                 "through other replicas whose notification was missed")
      ->envname("LLMPROXY_REVISION_POLL_MS")
      ->check(CLI::Range(10, 600000));
  app.add_option("--config-listen", flags.config_listen,
                 "on PostgreSQL, LISTEN for other replicas' changes (false: "
                 "rely on the revision poll only)")
      ->envname("LLMPROXY_CONFIG_LISTEN");
  app.add_option("--budget-refresh-ms", flags.budget_refresh_ms,
                 "how often budget spend and fleet size are recomputed and "
                 "pushed to data planes when they changed")
      ->envname("LLMPROXY_BUDGET_REFRESH_MS")
      ->check(CLI::Range(50, 600000));
  app.add_option("--fleet-heartbeat-ms", flags.fleet_heartbeat_ms,
                 "how often this replica refreshes its data planes' last "
                 "contact; a data plane counts as connected for 3 of them")
      ->envname("LLMPROXY_FLEET_HEARTBEAT_MS")
      ->check(CLI::Range(100, 600000));
  app.add_option("--grpc-tls-cert", flags.grpc_tls.cert_file,
                 "PEM certificate chain for TLS on the gRPC port (with "
                 "--grpc-tls-key; read at start)")
      ->envname("LLMPROXY_GRPC_TLS_CERT");
  app.add_option("--grpc-tls-key", flags.grpc_tls.key_file,
                 "PEM private key of --grpc-tls-cert")
      ->envname("LLMPROXY_GRPC_TLS_KEY");
  app.add_option("--grpc-tls-client-ca", flags.grpc_tls.client_ca_file,
                 "PEM CA certificates; set, every gRPC client (data planes, "
                 "the CLI) must present a certificate they signed (mutual "
                 "TLS)")
      ->envname("LLMPROXY_GRPC_TLS_CLIENT_CA");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2.
    return app.exit(e) == 0 ? 0 : 2;
  }

  // Block the shutdown signals before any thread exists (gRPC, HTTP, store)
  // so they are delivered to Run()'s sigwait only.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return llmproxy::controlplane::Run(flags);
}
