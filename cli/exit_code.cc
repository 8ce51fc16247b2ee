#include "cli/exit_code.h"

#include "absl/strings/str_cat.h"

namespace llmproxy::cli {

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  return kExitStatusBase + static_cast<int>(status.code());
}

std::string ExitCodeHelp() {
  std::string out =
      "Exit codes:\n"
      "  0   success\n"
      "  1   unexpected local failure\n"
      "  2   bad command line\n"
      "  10+N  the call failed with gRPC status N:\n";
  for (absl::StatusCode code :
       {absl::StatusCode::kInvalidArgument, absl::StatusCode::kDeadlineExceeded,
        absl::StatusCode::kNotFound, absl::StatusCode::kAlreadyExists,
        absl::StatusCode::kPermissionDenied,
        absl::StatusCode::kFailedPrecondition, absl::StatusCode::kAborted,
        absl::StatusCode::kInternal, absl::StatusCode::kUnavailable,
        absl::StatusCode::kUnauthenticated}) {
    absl::StrAppend(&out, "      ", ExitCodeFor(absl::Status(code, "x")), "  ",
                    absl::StatusCodeToString(code), "\n");
  }
  return out;
}

std::string FormatError(const absl::Status& status) {
  std::string message(status.message());
  // Server messages are single lines by convention; keep ours that way even
  // if one is not, so the error stays one line.
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return absl::StrCat("error: ", absl::StatusCodeToString(status.code()), ": ",
                      message);
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace llmproxy::cli
