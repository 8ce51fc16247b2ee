#!/usr/bin/env bash
# Sets up and runs every test: installs what is missing, builds, then runs
# ctest (unit tests, store contract tests on SQLite and a throwaway
# PostgreSQL, gRPC tests over loopback, end-to-end tests of the real binaries).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install_deps.sh
./scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 900 -j "${TEST_JOBS:-2}"
