#!/usr/bin/env bash
# docker-compose.yml as `make up` runs it, checked without an engine (none runs on CI machines):
# the file is valid Compose (docker-compose's own parser and schema), and it has what issue 4
# promised: Apache Kafka in KRaft mode, kafka-ui on port 8080, the order, payment and inventory
# topics created before the sidecar starts, PostgreSQL, Redis, a one-shot migrate, and the
# sidecar built from the Dockerfile and run with configs/kafka.yaml.
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() {
  echo "compose_test: $*" >&2
  exit 1
}

# Debian's docker-compose (v1, which scripts/setup.sh installs); Docker's own `docker compose` v2
# reads the same file.
command -v docker-compose >/dev/null || fail "docker-compose is not installed (scripts/setup.sh installs it)"
docker-compose -f docker-compose.yml config -q || fail "docker-compose.yml is not valid Compose"
resolved=$(docker-compose -f docker-compose.yml config)
services=$(docker-compose -f docker-compose.yml config --services | sort | tr '\n' ' ')
for s in demo-data kafka kafka-init kafka-ui migrate postgres redis sidecar; do
  [[ " $services " == *" $s "* ]] || fail "no service $s (services: $services)"
done

# The resolved file, one service at a time: the lines from "  NAME:" to the next service.
service() { awk -v s="  $1:" '$0 == s {on = 1; next} on && /^  [a-z-]+:$/ {on = 0} on' <<<"$resolved"; }

service kafka | grep -q 'KAFKA_PROCESS_ROLES: broker,controller' || fail "kafka is not in KRaft mode"
service kafka-ui | grep -Eq "published: \"?8080\"?|8080:8080" || fail "kafka-ui is not on port 8080"
init=$(service kafka-init)
for t in order payment inventory; do
  grep -Eq "for topic in .*\b$t\b" <<<"$init" || fail "kafka-init does not create the topic $t"
done
service migrate | grep -q 'migrate' || fail "migrate does not run sidecar migrate"
sidecar=$(service sidecar)
grep -q 'configs/kafka.yaml' <<<"$sidecar" || fail "the sidecar does not run configs/kafka.yaml"
grep -q 'context:' <<<"$sidecar" || fail "the sidecar is not built from the Dockerfile"
for dep in migrate kafka-init; do
  grep -A1 "^      $dep:" <<<"$sidecar" | grep -q 'condition: service_completed_successfully' ||
    fail "the sidecar does not wait for $dep to complete"
done
echo "compose_test: ok ($services)"
