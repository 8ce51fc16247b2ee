#!/usr/bin/env bash
# Sets up and runs the gateway on this machine: installs what is missing,
# builds, then starts the control plane (embedded SQLite under ./data/) and one
# data plane. Ctrl-C stops both.
#   client API        http://127.0.0.1:8080/v1   (OpenAI-compatible)
#   admin gRPC        127.0.0.1:50051            (llm-proxy CLI, grpcurl)
#   metrics/health    :9091 (control plane), :9090 (data plane)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install_deps.sh
./scripts/build.sh
BIN=${BUILD_DIR:-build}/bin
mkdir -p data

"$BIN/llm-proxy-controlplane" &
cp_pid=$!
"$BIN/llm-proxy-dataplane" --controlplane-address 127.0.0.1:50051 &
dp_pid=$!
trap 'kill -TERM $dp_pid $cp_pid 2>/dev/null; wait' INT TERM EXIT

cat <<MSG

llm-proxy is running.
  Try:  $BIN/llm-proxy connection list
  Then follow the walkthrough in README.md. Ctrl-C stops the gateway.

MSG
wait -n $cp_pid $dp_pid
