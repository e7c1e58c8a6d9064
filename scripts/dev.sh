#!/usr/bin/env bash
# `make dev`: local PostgreSQL and Redis under .run/dev, migrations and demo data, then the
# sidecar in the ZeroMQ-only dev mode, in the foreground.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
export PG_PORT=${PG_PORT:-55432} REDIS_PORT=${REDIS_PORT:-56379}
scripts/services.sh start .run/dev
eval "$(scripts/services.sh env .run/dev)"
export ZMQ_IN=${ZMQ_IN:-tcp://127.0.0.1:5555} ZMQ_OUT=${ZMQ_OUT:-tcp://127.0.0.1:5556}
export ADMIN_ADDR=${ADMIN_ADDR:-127.0.0.1:9464}
config=${SIDECAR_CONFIG:-configs/dev.yaml}

build/bin/sidecar migrate -c "$config"
if [ -f migrations/demo/demo_data.sql ]; then
  psql "$PG_DSN" -q -v ON_ERROR_STOP=1 -f migrations/demo/demo_data.sql
fi

cat <<MSG

  PostgreSQL: $PG_DSN     Redis: $REDIS_URL
  The sidecar runs below (Ctrl-C stops it; 'make dev-stop' stops the databases).
  In another terminal, from $(pwd):

    export PG_DSN='$PG_DSN'
    build/bin/sidecar listen  -c $config inventory &
    build/bin/sidecar publish -c $config order '{"idempotent_key":"8c3f5a1e-0b7d-4c1e-9a51-6f0e2d4b7a11","order_id":111,"status":"CREATED"}'
    build/bin/sidecar publish -c $config products '{}'
    curl -s http://$ADMIN_ADDR/metrics

MSG
exec build/bin/sidecar run -c "$config"
