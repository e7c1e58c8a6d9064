#!/usr/bin/env bash
# `make image-check`: builds the Dockerfile's image and runs the Kafka walkthrough through it,
# on a machine without a Docker engine or registry access (as root). Podman builds the image; the
# Debian base it starts FROM is made by debootstrap when no registry can be reached. The image's
# `sidecar` then migrates, runs and drains against a PostgreSQL, Redis and Apache Kafka broker
# started on ports of this script's own and stopped afterwards by their process ids.
# Not part of `make test`: the first run downloads a Debian base and builds the whole project in
# the image (about ten minutes on 2 cores).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
image=${IMAGE:-localhost/sidecar:check}
run=$here/.run/image
build=${BUILD:-build}

SIDECAR_SETUP_EXTRA="podman runc debootstrap kcat curl" scripts/setup.sh
# The host's own `sidecar` sends the walkthrough's messages and reads the events back.
cmake --build "$build" --target runtime >/dev/null

# crun's defaults raise RLIMIT_NOFILE and RLIMIT_NPROC above what a sandboxed root may set; runc
# with limits below the machine's starts where both refuse.
engine=(podman --runtime runc)
limits=(--ulimit nofile=16384:16384 --ulimit nproc=8192:8192)

base_image() {  # $1: the Dockerfile's FROM
  # A registry's image first; then one imported by an earlier run; then a new one.
  if "${engine[@]}" pull -q "$1" >/dev/null 2>&1 || "${engine[@]}" image exists "$1"; then return; fi
  local rootfs=$run/rootfs-bookworm
  if [ ! -x "$rootfs/bin/sh" ]; then
    echo "image-check: no registry; making $1 with debootstrap"
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$run/debootstrap.log"
  fi
  tar -C "$rootfs" -c . | "${engine[@]}" import -q - "$1" >/dev/null
}
mkdir -p "$run"
for from in $(awk '/^FROM/ {print $2}' Dockerfile | sort -u); do
  case $from in *:*) ;; *) from=$from:latest ;; esac
  base_image "docker.io/library/$from"
done
"${engine[@]}" build --network=host "${limits[@]}" -t "$image" . >"$run/build.log" 2>&1 ||
  { tail -n 30 "$run/build.log"; echo "image-check: build failed ($run/build.log)" >&2; exit 1; }
echo "image-check: built $image ($("${engine[@]}" image inspect -f '{{.Size}}' "$image" | numfmt --to=iec))"

container=sidecar-check-$$
export PG_PORT=${IMAGE_PG_PORT:-55485} REDIS_PORT=${IMAGE_REDIS_PORT:-56485}
export KAFKA_PORT=${IMAGE_KAFKA_PORT:-59291} KAFKA_CONTROLLER_PORT=${IMAGE_KAFKA_CONTROLLER_PORT:-59292}
admin=127.0.0.1:${IMAGE_ADMIN_PORT:-19485}
cleanup() {
  # By the name this run or an earlier, interrupted one wrote down.
  if [ -f "$run/container" ]; then
    "${engine[@]}" rm -f -t 0 "$(cat "$run/container")" >/dev/null 2>&1 || true
    rm -f "$run/container"
  fi
  scripts/services.sh stop "$run" >/dev/null 2>&1 || true
  tests/kafka/broker.sh stop "$run/kafka" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
rm -rf "$run/pg" "$run/kafka"  # every check starts from an empty database and broker
scripts/services.sh start "$run" >/dev/null
eval "$(scripts/services.sh env "$run")"
tests/kafka/broker.sh start "$run/kafka" >/dev/null
eval "$(tests/kafka/broker.sh env "$run/kafka")"

in_image() {  # the image's sidecar, on the host's network, with the services' addresses
  "${engine[@]}" run --network=host "${limits[@]}" -e PG_DSN="$PG_DSN" \
    -e REDIS_URL="$REDIS_URL" -e KAFKA_BROKERS="$KAFKA_BROKERS" -e ADMIN_ADDR="$admin" "$@"
}
fail() {
  "${engine[@]}" logs "$container" 2>&1 | tail -n 20 >&2 || true
  echo "image-check: FAILED: $*" >&2
  exit 1
}
sql() { psql "$PG_DSN" -Atqc "$1"; }

plugins=$(in_image --rm "$image" plugins | awk '/^[a-z-]+ +(handler|transport) / {print $1}' | sort | xargs)
[ "$plugins" = "echo kafka order-reservation payment-settlement product-query zeromq" ] ||
  fail "the image lists plugins: $plugins"
in_image --rm "$image" migrate -c configs/kafka.yaml
psql "$PG_DSN" -q -v ON_ERROR_STOP=1 -f migrations/demo/demo_data.sql
# The topics exist before the sidecar subscribes, as compose's kafka-init makes them (asking for a
# topic's metadata creates it on a broker that auto-creates topics, as the test broker does).
kc() { kcat -b "$KAFKA_BROKERS" "$@"; }
for t in order payment inventory dlq products product-replies; do kc -L -t "$t" >/dev/null; done

echo "$container" >"$run/container"
in_image -d --name "$container" "$image" >/dev/null
for _ in $(seq 1 60); do
  curl -fs "http://$admin/readyz" >/dev/null && break
  sleep 0.5
done
curl -fs "http://$admin/readyz" >/dev/null || fail "/readyz never said ready"

# The README's walkthrough over Kafka, with its kcat commands; each step waits for the one before,
# as a person typing them would (a payment for an order not reserved yet changes nothing).
until_sql() {  # QUERY EXPECTED
  for _ in $(seq 1 60); do
    [ "$(sql "$1")" = "$2" ] && return 0
    sleep 0.5
  done
  fail "waited for '$1' to give '$2'; it gives '$(sql "$1")'"
}
stock="SELECT string_agg(count::text, ',' ORDER BY id) FROM products"
held="SELECT string_agg(coalesce(status::text, 'held'), ',' ORDER BY order_id, product_id) FROM reservations"
kc -t order -P -k 111 <<<'{"idempotent_key":"8c3f5a1e-0b7d-4c1e-9a51-6f0e2d4b7a11","order_id":111,"status":"CREATED"}'
until_sql "$stock" 8,19,5,8
kc -t payment -P -k 111 <<<'{"idempotent_key":"0f5b8f8e-3c9a-4f7e-8d2b-1a2b3c4d5e6f","order_id":111,"status":"COMPLETED"}'
until_sql "$held" true,true
kc -t order -P -k 222 <<<'{"idempotent_key":"5d6e7f80-1a2b-4c3d-8e9f-a0b1c2d3e4f5","order_id":222,"status":"CREATED"}'
until_sql "$stock" 8,19,4,6
kc -t payment -P -k 222 <<<'{"idempotent_key":"9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d","order_id":222,"status":"FAILED"}'
until_sql "$stock" 8,19,5,8
until_sql "$held" true,true,false,false
events() { kc -t inventory -C -o beginning -e -q -f '%k %s\n' | grep -c '"status":"CREATED"' || true; }
for _ in $(seq 1 60); do
  [ "$(events)" = 2 ] && break
  sleep 0.5
done
[ "$(events)" = 2 ] || fail "the inventory topic holds $(events) CREATED events, not 2"

# Product queries over Kafka, answered on the reply_to topic: kcat's, then the command line's.
kc -t products -P -k q -H reply_to=product-replies -H correlation_id=1 <<<'{}'
body='{"products":[{"id":1,"name":"keyboard","count":8},{"id":2,"name":"mouse","count":19},{"id":3,"name":"monitor","count":5},{"id":4,"name":"headset","count":8}]}'
for _ in $(seq 1 60); do
  replies=$(kc -t product-replies -C -o beginning -e -q -f '%h %s\n') || true
  [[ $replies == *"correlation_id=1"*"$body"* ]] && break
  sleep 0.5
done
[[ $replies == *"correlation_id=1"*"$body"* ]] || fail "no reply to kcat's product query: $replies"
reply=$("$build"/bin/sidecar publish -c configs/kafka.yaml --header reply_to=product-replies products \
  '{"ids":[1,3]}') || true
[[ $reply == *'{"products":[{"id":1,"name":"keyboard","count":8},{"id":3,"name":"monitor","count":5}]}'* ]] ||
  fail "the command line's product query answered: $reply"

# SIGTERM: drain, commit, exit 0.
"${engine[@]}" stop -t 30 "$container" >/dev/null
code=$("${engine[@]}" inspect -f '{{.State.ExitCode}}' "$container")
[ "$code" = 0 ] || fail "the sidecar exited $code on SIGTERM"
echo "image-check: ok (plugins listed, migrated, the README's kcat walkthrough, inventory events, product queries answered, SIGTERM exit 0)"
