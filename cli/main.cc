// llm-proxy: the admin CLI of llm-proxy (a gRPC client of the control plane).
#include <exception>
#include <iostream>

#include "cli/commands.h"
#include "cli/exit_code.h"
#include "common/grpc_log.h"

int main(int argc, char** argv) {
  llmproxy::SilenceGrpcLogs();
  try {
    return llmproxy::cli::RunCli(argc, argv);
  } catch (const std::exception& e) {
    // Nothing should throw this far; say what did rather than abort.
    std::cerr << "error: INTERNAL: " << e.what() << "\n";
    return llmproxy::cli::kExitInternal;
  }
}
