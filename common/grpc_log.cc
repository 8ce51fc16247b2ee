#include "common/grpc_log.h"

#include <string>

#include "common/log.h"
#include "grpc/support/log.h"

namespace llmproxy {
namespace {

void WriteJson(gpr_log_func_args* args) {
  log::Level level = log::Level::kError;
  switch (args->severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      level = log::Level::kDebug;
      break;
    case GPR_LOG_SEVERITY_INFO:
      level = log::Level::kInfo;
      break;
    case GPR_LOG_SEVERITY_ERROR:
      break;
  }
  const std::string where =
      std::string(args->file != nullptr ? args->file : "?") + ":" +
      std::to_string(args->line);
  log::Write(level, args->message != nullptr ? args->message : "",
             {{"source", "grpc"}, {"at", where}});
}

void Drop(gpr_log_func_args*) {}

}  // namespace

void RouteGrpcLogsToJson() { gpr_set_log_function(WriteJson); }

void SilenceGrpcLogs() { gpr_set_log_function(Drop); }

}  // namespace llmproxy
