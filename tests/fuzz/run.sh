#!/usr/bin/env bash
# Builds the config-loading fuzz target with clang's libFuzzer and runs it for a bounded time.
#   tests/fuzz/run.sh [SECONDS] [WORK_DIR]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-60}
work=${2:-$top/build-fuzz/config}
cxx=${CXX:-}
if [ -z "$cxx" ]; then
  for c in clang++ clang++-14; do
    if command -v "$c" >/dev/null; then cxx=$c; break; fi
  done
fi
[ -n "$cxx" ] || { echo "fuzz: clang++ not found" >&2; exit 2; }
mkdir -p "$work/corpus" "$work/artifacts"
cp -n "$top"/configs/*.yaml "$work/corpus/" 2>/dev/null || true
"$cxx" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$top/host" -I"$top/contracts/include" \
  "$top/tests/fuzz/config_fuzz.cpp" "$top/host/config/config_loader.cpp" \
  "$top/host/config/env_expand.cpp" "$top/host/log/logger.cpp" \
  -lyaml-cpp -lfmt -o "$work/config_fuzz"
"$work/config_fuzz" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus"
