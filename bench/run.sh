#!/usr/bin/env bash
# Runs the benchmarks against a build: bench/run.sh [BUILD_DIR]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
export SIDECAR_BUILD_DIR=$build
"$build/bin/zeromq_passthrough" "${ZMQ_BENCH_MESSAGES:-1000000}"
