#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace grpc {
class ChannelCredentials;
class ServerCredentials;
}  // namespace grpc

namespace llmproxy {

// TLS for a gRPC server, from PEM files. No cert_file: plain text.
struct GrpcServerTls {
  std::string cert_file;  // the certificate chain, leaf first
  std::string key_file;
  // Set: every client must present a certificate signed by one of these
  // (mutual TLS); data planes and the CLI then need cert_file/key_file too.
  std::string client_ca_file;
};

// TLS for a gRPC client, from PEM files. Enabled by `enabled` or by any file.
struct GrpcClientTls {
  bool enabled = false;
  // The CAs the server's certificate is checked against; empty: the
  // system's CA store.
  std::string ca_file;
  // A client certificate, for a server that asks for one (mutual TLS).
  std::string cert_file;
  std::string key_file;

  bool on() const {
    return enabled || !ca_file.empty() || !cert_file.empty() ||
           !key_file.empty();
  }
};

// The credentials for the server's listening port. The files are read once,
// here, and checked (each one PEM of the right kind, the key matching the
// certificate), so a mistake stops the start with INVALID_ARGUMENT naming the
// file instead of failing every handshake later. Messages never quote a
// file's content.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const GrpcServerTls& tls);

// The credentials for a channel; insecure ones when `tls` is not on().
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>
MakeChannelCredentials(const GrpcClientTls& tls);

// What to try when a call on a channel made from `tls` failed UNAVAILABLE
// with `message`: a plain-text call to a TLS port, or one without the client
// certificate a mutual-TLS port asks for, fails as a closed socket, and an
// untrusted server certificate as a failed verification. `flag` is the
// caller's TLS flag ("--tls", "--controlplane-tls"); the others are named
// after it. Empty when there is nothing to suggest (or the message is about
// something else, such as a refused connection).
std::string UnavailableTlsHint(const GrpcClientTls& tls,
                               absl::string_view message,
                               absl::string_view flag);

}  // namespace llmproxy
