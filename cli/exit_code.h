#pragma once

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace llmproxy::cli {

// Exit codes of `llm-proxy`. Scripts can tell "not found" from "refused"
// without parsing stderr: every failed call exits with 10 + its gRPC status
// code (absl and gRPC codes are the same numbers).
inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;  // an unexpected local failure
inline constexpr int kExitUsage = 2;     // bad command line (unknown flag...)
inline constexpr int kExitStatusBase = 10;

// The exit code for a failed call: 10 + the status code (OK gives 0).
int ExitCodeFor(const absl::Status& status);

// The text of `--help`'s footer listing the exit codes.
std::string ExitCodeHelp();

// One line for stderr: "error: ALREADY_EXISTS: connection name "x" is taken".
std::string FormatError(const absl::Status& status);

// gRPC's status as an absl::Status (the codes are numerically equal).
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace llmproxy::cli
