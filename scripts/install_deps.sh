#!/usr/bin/env bash
# Installs everything llm-proxy needs to build, run and test on Debian 12.
# Idempotent: apt-get skips what is already there.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi

PACKAGES=(
  build-essential cmake ninja-build pkg-config git python3
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libpqxx-dev prometheus-cpp-dev libgtest-dev libgmock-dev libssl-dev
  libsqlite3-dev sqlite3 postgresql postgresql-client libcli11-dev libgoogle-perftools-dev
  ca-certificates curl jq openssl
)
# Node.js runs the end-to-end tests (the official openai SDK, grpc-js).
command -v node >/dev/null && command -v npm >/dev/null || PACKAGES+=(nodejs npm)

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
# The postgresql package may start a cluster of its own; the tests use
# throwaway clusters on free ports and do not need it.
echo "dependencies installed"
