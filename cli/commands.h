#pragma once

namespace llmproxy::cli {

// Parses `llm-proxy`'s command line, runs the verb against the control plane
// and prints the result on stdout (errors on stderr, one line). Returns the
// process exit code (see ExitCodeHelp()).
int RunCli(int argc, char** argv);

}  // namespace llmproxy::cli
