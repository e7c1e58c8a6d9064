#!/usr/bin/env bash
# Runs the benchmarks against a build, with PostgreSQL and Redis (and Kafka, for the Kafka
# benchmarks) started on ports of their own and stopped afterwards.
#   bench/run.sh [BUILD_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
run=$here/.run/bench
export PG_PORT=${BENCH_PG_PORT:-55434} REDIS_PORT=${BENCH_REDIS_PORT:-56381}
cleanup() { "$here/scripts/services.sh" stop "$run" || true; }
trap cleanup EXIT
cleanup
rm -rf "$run"
"$here/scripts/services.sh" start "$run"
eval "$("$here/scripts/services.sh" env "$run")"
export SIDECAR_BUILD_DIR=$build SIDECAR_SOURCE_DIR=$here

"$build/bin/zeromq_passthrough" "${ZMQ_BENCH_MESSAGES:-1000000}"
"$build/bin/reservation" "${RESERVATION_ORDERS:-50000}" "${RESERVATION_WORKERS:-4}"
if [ -n "${KAFKA_BROKERS:-}" ]; then
  "$build/bin/kafka_passthrough" "${KAFKA_BENCH_MESSAGES:-1000000}"
fi
