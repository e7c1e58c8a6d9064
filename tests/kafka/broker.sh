#!/usr/bin/env bash
# Runs one Apache Kafka broker (KRaft, broker and controller in one process) on loopback ports of
# its own, for the tests. Kafka comes from Maven Central (org.apache.kafka:kafka_2.13 and its
# runtime dependencies) into a cache under the project, fetched once and reused.
#
#   tests/kafka/broker.sh start|stop|status|env|fetch [RUN_DIR]
#
# Environment:
#   KAFKA_PORT             client port (default 59092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default KAFKA_PORT + 1)
#   KAFKA_VERSION          the Kafka release (default 4.1.1; brokers of 4.x need Java 17+)
#   KAFKA_CACHE            where releases are cached (default <repo>/.cache/kafka)
#   KAFKA_HEAP_OPTS        JVM heap (default -Xms256m -Xmx512m)
# RUN_DIR (default <repo>/.run/kafka) holds the config, the data, the log and kafka.pid.
# `start` returns once the broker answers a metadata request; `stop` stops the process whose id
# `start` recorded, and nothing else. `status` exits 0 when running, 3 when not.
# `env` prints `export KAFKA_BROKERS=...` for the tests.
set -euo pipefail

cmd=${1:?usage: broker.sh start|stop|status|env|fetch [RUN_DIR]}
here=$(cd "$(dirname "$0")/../.." && pwd)
run_dir=${2:-$here/.run/kafka}
mkdir -p "$run_dir"
run_dir=$(cd "$run_dir" && pwd)
KAFKA_PORT=${KAFKA_PORT:-59092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
KAFKA_CACHE=${KAFKA_CACHE:-$here/.cache/kafka}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
# Kafka 4.1's own logging backend, so the broker log is a file and not a warning about SLF4J.
# slf4j-api is named too: Maven's nearest-wins would otherwise pick a 1.7 that sees no backend.
LOG4J_VERSION=2.24.3
SLF4J_VERSION=2.0.17
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
libs=$KAFKA_CACHE/$KAFKA_VERSION/libs
pid_file=$run_dir/kafka.pid

log() { echo "broker.sh: $*" >&2; }

need() {
  local tool=$1 package=$2
  command -v "$tool" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing $package"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" \
      >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "$package" >/dev/null; }
  fi
  command -v "$tool" >/dev/null 2>&1 && return 0
  log "$tool is missing: apt-get install $package"
  exit 1
}

# The running broker's pid, if the recorded process is still our broker (a recycled pid is not).
running_pid() {
  [ -f "$pid_file" ] || return 1
  local pid
  pid=$(cat "$pid_file")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  echo "$pid"
}

fetch() {
  [ -f "$libs/.complete" ] && return 0
  need java default-jre-headless
  need mvn maven
  local work=$KAFKA_CACHE/$KAFKA_VERSION
  mkdir -p "$work"
  # A throwaway project whose only job is to name what to copy; Maven resolves the rest.
  cat >"$work/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>sidecar.tests</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  log "fetching Kafka $KAFKA_VERSION from Maven Central into $work"
  rm -rf "$work/libs.partial"
  if ! mvn -B -q -f "$work/pom.xml" "$DEPENDENCY_PLUGIN:copy-dependencies" \
      -DincludeScope=runtime -DoutputDirectory="$work/libs.partial" >"$work/fetch.log" 2>&1; then
    tail -n 30 "$work/fetch.log" >&2
    log "fetching Kafka $KAFKA_VERSION failed (log: $work/fetch.log)"
    exit 1
  fi
  # Renamed only when complete, so an interrupted fetch is never taken for a cache.
  rm -rf "$libs"
  mv "$work/libs.partial" "$libs"
  touch "$libs/.complete"
}

write_config() {
  mkdir -p "$run_dir/data" "$run_dir/logs"
  cat >"$run_dir/server.properties" <<EOF
# Written by tests/kafka/broker.sh on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$run_dir/data
auto.create.topics.enable=true
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
# Fewer offsets partitions: the first group coordinator lookup creates them all.
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=67108864
EOF
  cat >"$run_dir/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $run_dir/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
EOF
}

# shellcheck disable=SC2206
jvm=(java $KAFKA_HEAP_OPTS -XX:+UseG1GC -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$run_dir/log4j2.properties" -Dkafka.logs.dir="$run_dir/logs"
  -cp "$libs/*")

format_storage() {
  [ -f "$run_dir/data/meta.properties" ] && return 0
  local cluster_id
  cluster_id=$("${jvm[@]}" kafka.tools.StorageTool random-uuid 2>>"$run_dir/format.log")
  "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$run_dir/server.properties" \
    >>"$run_dir/format.log" 2>&1 || { cat "$run_dir/format.log" >&2; log "format failed"; exit 1; }
}

answers() {
  kcat -b "127.0.0.1:$KAFKA_PORT" -L -m 2 >/dev/null 2>&1
}

start() {
  if pid=$(running_pid); then
    log "already running (pid $pid)"
    return 0
  fi
  need kcat kcat
  fetch
  write_config
  format_storage
  # A broker stopped less than a minute ago leaves its ports in TIME_WAIT, which the JVM's
  # listener does not bind over: such a start is tried again once they have expired.
  local attempt
  for attempt in 1 2 3 4; do
    launch && return 0
    grep -q 'Address already in use' "$run_dir/logs/server.log" 2>/dev/null || break
    [ "$attempt" -lt 4 ] || break
    log "port $KAFKA_PORT or $KAFKA_CONTROLLER_PORT still held; trying again in 20 s"
    sleep 20
  done
  tail -n 30 "$run_dir/kafka.out" "$run_dir/logs/server.log" 2>/dev/null >&2 || true
  log "the broker exited while starting (logs in $run_dir)"
  exit 1
}

# One start of the JVM; fails when it exits before it answers.
launch() {
  # The shell records its own pid and then becomes the JVM, so the pid is the broker's exactly;
  # setsid keeps the broker out of the caller's process group and terminal.
  : >"$run_dir/kafka.out"
  rm -f "$run_dir/logs/server.log"
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pid_file" \
    "${jvm[@]}" kafka.Kafka "$run_dir/server.properties" </dev/null >>"$run_dir/kafka.out" 2>&1 &
  echo "127.0.0.1:$KAFKA_PORT" >"$run_dir/brokers"
  local deadline=$((SECONDS + 90))
  while [ $SECONDS -lt $deadline ]; do
    if [ -s "$pid_file" ] && ! running_pid >/dev/null; then
      rm -f "$pid_file"
      return 1
    fi
    if answers; then
      log "running (pid $(cat "$pid_file")) on 127.0.0.1:$KAFKA_PORT"
      return 0
    fi
    sleep 0.5
  done
  log "the broker did not answer within 90 s (logs in $run_dir); stopping it"
  stop
  exit 1
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$pid_file"
    return 0
  fi
  kill -TERM "$pid"
  # A clean shutdown closes the logs properly, so the next start needs no recovery.
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid still running after 60 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pid_file"
  log "stopped (pid $pid)"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  fetch) fetch ;;
  status)
    if pid=$(running_pid); then
      brokers=$(cat "$run_dir/brokers" 2>/dev/null || echo "127.0.0.1:$KAFKA_PORT")
      echo "kafka: running (pid $pid) on $brokers"
    else
      echo "kafka: stopped"
      exit 3
    fi ;;
  env)
    if pid=$(running_pid) && [ -s "$run_dir/brokers" ]; then
      echo "export KAFKA_BROKERS=$(cat "$run_dir/brokers")"
      # For the benchmarks' account of where the CPU went.
      echo "export KAFKA_BROKER_PID=$pid"
    else
      echo "export KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
    fi ;;
  *) echo "unknown command: $cmd" >&2; exit 2 ;;
esac
