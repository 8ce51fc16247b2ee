#!/usr/bin/env bash
# A profile-guided Release build of llm-proxy-dataplane (with the control plane
# and the CLI, built as usual) into ./build-pgo: builds the data plane
# instrumented, runs the training workload of scripts/pgo_training.mjs through
# it (about 10 s, 127.0.0.1 only), then rebuilds it from the profile. Needs
# what scripts/install_deps.sh installs, Node.js included.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-pgo}
JOBS=${JOBS:-$(nproc)}
TARGETS=(llm-proxy-dataplane llm-proxy-controlplane llm-proxy)

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLMPROXY_PGO=generate >/dev/null
BIN_DIR="$(cd "$BUILD_DIR" && pwd)/bin"
ninja -C "$BUILD_DIR" -j "$JOBS" "${TARGETS[@]}"
find "$BUILD_DIR" -name '*.gcda' -delete  # a profile from an earlier training
LLMPROXY_BIN_DIR="$BIN_DIR" node scripts/pgo_training.mjs
cmake -S . -B "$BUILD_DIR" -DLLMPROXY_PGO=use >/dev/null
ninja -C "$BUILD_DIR" -j "$JOBS" "${TARGETS[@]}"
# The optimised binary serves the same mix (a twentieth of it) as it should.
LLMPROXY_BIN_DIR="$BIN_DIR" node scripts/pgo_training.mjs --scale 0.05
echo "profile-guided build in $BUILD_DIR/bin"
