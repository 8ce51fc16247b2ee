#pragma once

namespace llmproxy {

// gRPC's own log lines (a failed TLS handshake, a connection reset) go
// through log::Write as JSON lines with "source":"grpc", like every other
// line of the servers, instead of gRPC's text format on stderr. Call before
// the first gRPC object is made.
void RouteGrpcLogsToJson();

// For the CLI: gRPC's lines are dropped. Every failed call's status, which
// carries the same cause, is printed as the one "error: …" line.
void SilenceGrpcLogs();

}  // namespace llmproxy
