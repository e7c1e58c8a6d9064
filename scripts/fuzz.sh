#!/usr/bin/env bash
# `make fuzz`: the libFuzzer targets (message decoding, config loading), each for a bounded time
# (FUZZ_SECONDS, default 60). Not part of every CI run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
SIDECAR_SETUP_EXTRA="clang-14 libclang-rt-14-dev" "$here/scripts/setup.sh"
export CXX=${CXX:-clang++-14}
seconds=${FUZZ_SECONDS:-60}
"$here/plugins/inventory/fuzz/run.sh" "$seconds" "$here/build-fuzz/decode"
"$here/tests/fuzz/run.sh" "$seconds" "$here/build-fuzz/config"
