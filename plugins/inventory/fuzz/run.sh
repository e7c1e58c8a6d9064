#!/usr/bin/env bash
# Builds the decoding fuzz target with clang's libFuzzer and runs it for a bounded time.
#
#   plugins/inventory/fuzz/run.sh [SECONDS] [WORK_DIR]
#
# SECONDS defaults to 60; WORK_DIR (binary, growing corpus, crash files) to build-fuzz/ at the
# top of the tree. Needs Debian's clang (packages clang-14 libclang-rt-14-dev, or clang). Exits
# non-zero when libFuzzer finds a crash, leak, timeout or sanitizer report.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
inv=$(cd "$here/.." && pwd)
top=$(cd "$inv/../.." && pwd)
seconds=${1:-60}
work=${2:-$top/build-fuzz}

cxx=${CXX:-}
if [ -z "$cxx" ]; then
  for c in clang++ clang++-14; do
    if command -v "$c" >/dev/null; then cxx=$c; break; fi
  done
fi
if [ -z "$cxx" ]; then
  echo "fuzz: clang++ not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi

mkdir -p "$work/corpus" "$work/artifacts"
"$cxx" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$inv/include" \
  "$here/decode_fuzz.cpp" "$inv/src/decode.cpp" "$inv/src/uuid.cpp" "$inv/src/sha1.cpp" \
  -o "$work/decode_fuzz"
cp -n "$here"/corpus/* "$work/corpus/" 2>/dev/null || true

# Larger inputs than the default 4 KiB so the size limit and deep nesting are reached.
"$work/decode_fuzz" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus"
