#!/usr/bin/env bash
# Runs every test against services this script starts on loopback ports of its own (PostgreSQL,
# Redis, an Apache Kafka broker) and stops them afterwards by the process ids it started.
#   tests/run.sh [BUILD_DIR] [ctest args...]
# TEST_RUN_DIR (default .run/test) and the TEST_*_PORT variables let two runs share a machine.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
shift || true
run=${TEST_RUN_DIR:-$here/.run/test}
export PG_PORT=${TEST_PG_PORT:-55433}
export REDIS_PORT=${TEST_REDIS_PORT:-56380}
export KAFKA_PORT=${TEST_KAFKA_PORT:-59093}
export KAFKA_CONTROLLER_PORT=${TEST_KAFKA_CONTROLLER_PORT:-59094}

have_kafka() { [ -x "$here/tests/kafka/broker.sh" ]; }

cleanup() {
  "$here/scripts/services.sh" stop "$run" || true
  if have_kafka; then "$here/tests/kafka/broker.sh" stop "$run/kafka" || true; fi
}
trap cleanup EXIT

# Start from empty databases each run: stop what an interrupted run may have left, then wipe.
cleanup
rm -rf "$run"
"$here/scripts/services.sh" start "$run"
eval "$("$here/scripts/services.sh" env "$run")"
if have_kafka; then
  "$here/tests/kafka/broker.sh" start "$run/kafka"
  eval "$("$here/tests/kafka/broker.sh" env "$run/kafka")"
fi
export SIDECAR_SOURCE_DIR=$here
# Only read by sanitizer builds: a known leak inside libpqxx 6.4 (see the file).
export LSAN_OPTIONS=suppressions=$here/tests/lsan.supp:print_suppressions=0
export SIDECAR_BUILD_DIR=$build

ctest --test-dir "$build" --output-on-failure --timeout 900 "$@"
