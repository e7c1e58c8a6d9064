#!/usr/bin/env bash
# Runs the benchmarks against a build, with PostgreSQL, Redis and an Apache Kafka broker started
# on ports of their own and stopped afterwards (by the pids they were started with).
#   bench/run.sh [BUILD_DIR] [zeromq|reservation|kafka ...]   (default: all)
# Knobs: ZMQ_BENCH_MESSAGES, KAFKA_BENCH_MESSAGES (and the KAFKA_BENCH_* of kafka_passthrough.cpp),
# RESERVATION_ORDERS, RESERVATION_WORKERS, RESERVATION_KAFKA=0 (no Kafka mode),
# RESERVATION_PHASES=b1,b64,paced,pgbench,kafka (a subset, e.g. to profile one),
# RESERVATION_INFLIGHT (orders in flight per worker and batch, default 2), BENCH_RELAY=false,
# RESERVATION_ROUNDS (sidecar/pgbench pairs, default 3; the median ratio counts).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" && pwd)
shift || true
which=("$@")
[ ${#which[@]} -gt 0 ] || which=(zeromq reservation kafka)
wants() { [[ " ${which[*]} " == *" $1 "* ]]; }

run=$here/.run/bench
export PG_PORT=${BENCH_PG_PORT:-55474} REDIS_PORT=${BENCH_REDIS_PORT:-56474}
export KAFKA_PORT=${BENCH_KAFKA_PORT:-59095} KAFKA_CONTROLLER_PORT=${BENCH_KAFKA_CONTROLLER_PORT:-59096}
cleanup() {
  "$here/scripts/services.sh" stop "$run" || true
  "$here/tests/kafka/broker.sh" stop "$run/kafka" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
rm -rf "$run"
export SIDECAR_BUILD_DIR=$build SIDECAR_SOURCE_DIR=$here

if wants zeromq; then
  "$build/bin/zeromq_passthrough" "${ZMQ_BENCH_MESSAGES:-1000000}"
fi
if wants kafka || { wants reservation && [ "${RESERVATION_KAFKA:-1}" != 0 ]; }; then
  # The reservation bench has a Kafka mode too (RESERVATION_KAFKA=0 skips it).
  "$here/tests/kafka/broker.sh" start "$run/kafka"
  eval "$("$here/tests/kafka/broker.sh" env "$run/kafka")"
fi
if wants reservation; then
  "$here/scripts/services.sh" start "$run"
  eval "$("$here/scripts/services.sh" env "$run")"
  if [ "${RESERVATION_KAFKA:-1}" = 0 ]; then
    KAFKA_BROKERS='' "$build/bin/reservation" "${RESERVATION_ORDERS:-50000}" "${RESERVATION_WORKERS:-4}"
  else
    "$build/bin/reservation" "${RESERVATION_ORDERS:-50000}" "${RESERVATION_WORKERS:-4}"
  fi
fi
if wants kafka; then
  "$build/bin/kafka_passthrough" "${KAFKA_BENCH_MESSAGES:-1000000}"
fi
