#!/usr/bin/env bash
# Starts and stops a private PostgreSQL and Redis under a folder of the project, on ports of their
# own, and stops them by the process ids they were started with.
#
#   scripts/services.sh start|stop|status|env   [RUN_DIR]
#
# Environment: PG_PORT (default 55432), REDIS_PORT (default 56379). RUN_DIR defaults to .run/dev.
# `env` prints the PG_DSN and REDIS_URL for the started services.
set -euo pipefail

cmd=${1:?usage: services.sh start|stop|status|env [RUN_DIR]}
here=$(cd "$(dirname "$0")/.." && pwd)
run_dir=${2:-$here/.run/dev}
mkdir -p "$run_dir"
run_dir=$(cd "$run_dir" && pwd)
PG_PORT=${PG_PORT:-55432}
REDIS_PORT=${REDIS_PORT:-56379}
pg_data=$run_dir/pg
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

# PostgreSQL refuses to run as root; as root, run it as the postgres user.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  if [ ! -s "$pg_data/PG_VERSION" ]; then
    mkdir -p "$pg_data"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pg_data"
    as_pg "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust -E UTF8 >"$run_dir/initdb.log" 2>&1
  fi
  if [ -f "$pg_data/postmaster.pid" ] && kill -0 "$(head -1 "$pg_data/postmaster.pid")" 2>/dev/null; then
    return 0
  fi
  as_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_data/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $pg_data -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
  head -1 "$pg_data/postmaster.pid" >"$run_dir/pg.pid"
  for _ in $(seq 1 50); do
    psql "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres" -qAtc 'select 1' >/dev/null 2>&1 && break
    sleep 0.1
  done
  psql "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres" -qAtc \
    "select 1 from pg_database where datname='sidecar'" | grep -q 1 ||
    psql "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres" -qc 'create database sidecar' >/dev/null
}

pg_stop() {
  [ -f "$run_dir/pg.pid" ] || return 0
  local pid
  pid=$(cat "$run_dir/pg.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid"   # PostgreSQL's fast shutdown
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$run_dir/pg.pid"
}

redis_start() {
  if [ -f "$run_dir/redis.pid" ] && kill -0 "$(cat "$run_dir/redis.pid")" 2>/dev/null; then
    return 0
  fi
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$run_dir" --save '' --appendonly no \
    --daemonize yes --pidfile "$run_dir/redis.pid" --logfile "$run_dir/redis.log"
  for _ in $(seq 1 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
}

redis_stop() {
  [ -f "$run_dir/redis.pid" ] || return 0
  local pid
  pid=$(cat "$run_dir/redis.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$run_dir/redis.pid"
}

case "$cmd" in
  start) pg_start; redis_start ;;
  stop) redis_stop; pg_stop ;;
  pg-start) pg_start ;;
  pg-stop) pg_stop ;;
  redis-start) redis_start ;;
  redis-stop) redis_stop ;;
  status)
    for s in pg redis; do
      if [ -f "$run_dir/$s.pid" ] && kill -0 "$(cat "$run_dir/$s.pid")" 2>/dev/null; then
        echo "$s: running (pid $(cat "$run_dir/$s.pid"))"
      else
        echo "$s: stopped"
      fi
    done ;;
  env)
    echo "export PG_DSN='postgresql://postgres@127.0.0.1:$PG_PORT/sidecar'"
    echo "export REDIS_URL='redis://127.0.0.1:$REDIS_PORT/0'" ;;
  *) echo "unknown command: $cmd" >&2; exit 2 ;;
esac
