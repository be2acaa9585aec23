#!/usr/bin/env bash
# Runs a real Apache Kafka 4.x for the tests: one KRaft node that is both
# broker and controller, assembled from Maven Central (deploy/kafka/pom.xml),
# listening on 127.0.0.1 only.
#
#   scripts/kafka.sh start    # format (first time) and start; prints brokers=HOST:PORT
#   scripts/kafka.sh stop     # SIGTERM, then SIGKILL after 30 s; keeps the data
#   scripts/kafka.sh kill     # SIGKILL (a crash); keeps the data
#   scripts/kafka.sh status   # exit 0 and print brokers=… when it answers
#   scripts/kafka.sh wipe     # stop and delete the data and logs
#
# Settings (environment):
#   EXAM_KAFKA_PORT             client listener port (default 19092; never the dev 9092)
#   EXAM_KAFKA_CONTROLLER_PORT  KRaft controller port (default EXAM_KAFKA_PORT+1)
#   EXAM_KAFKA_DIR              data, logs, config and pid file (default
#                               ${TMPDIR:-/tmp}/examhall-kafka-$EXAM_KAFKA_PORT, outside the checkout)
#   EXAM_KAFKA_OWNER_PID        when set, the broker is stopped once that process is gone
#                               (a test binary that dies without cleaning up leaks nothing)
#   EXAM_KAFKA_HEAP             JVM heap (default 512m)
#
# The jars are copied once into $EXAM_JAR_CACHE/kafka-<version> (see
# scripts/ensure-java.sh); later starts use the cache and need no network.
# Topics are not auto-created, as in production: the platform creates its
# own (kafkabus.EnsureTopics, with the broker's default replication factor).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/scripts/ensure-java.sh"

POM="$ROOT/deploy/kafka/pom.xml"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
[ -n "$KAFKA_VERSION" ] || { echo "kafka.sh: no kafka.version in $POM" >&2; exit 1; }
PORT="${EXAM_KAFKA_PORT:-19092}"
CPORT="${EXAM_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
DIR="${EXAM_KAFKA_DIR:-${TMPDIR:-/tmp}/examhall-kafka-$PORT}"
HEAP="${EXAM_KAFKA_HEAP:-512m}"
JARS="$EXAM_JAR_CACHE/kafka-$KAFKA_VERSION"
PIDFILE="$DIR/kafka.pid"
ADDR="127.0.0.1:$PORT"

log() { echo "kafka.sh: $*" >&2; }

# ensure_jars copies kafka_2.13 and its runtime dependencies into the cache
# once. It copies into a temporary folder and renames it, so a run that was
# interrupted (or two running at once) never leaves a half-filled cache.
ensure_jars() {
  [ -f "$JARS/.complete" ] && return 0
  mkdir -p "$EXAM_JAR_CACHE"
  local tmp
  tmp=$(mktemp -d "$EXAM_JAR_CACHE/.kafka-$KAFKA_VERSION.XXXXXX")
  log "copying Apache Kafka $KAFKA_VERSION jars from Maven Central into $JARS"
  if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >&2; then
    rm -rf "$tmp"; log "mvn could not fetch Kafka $KAFKA_VERSION"; exit 1
  fi
  ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null || { rm -rf "$tmp"; log "kafka_2.13 jar missing after mvn"; exit 1; }
  touch "$tmp/.complete"
  if ! mv -T "$tmp" "$JARS" 2>/dev/null; then rm -rf "$tmp"; fi # another run won the race
  [ -f "$JARS/.complete" ] || { log "jar cache $JARS incomplete"; exit 1; }
}

running_pid() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# answers: the client port accepts connections and the broker logged that it
# started (a port that is open during log recovery is not ready yet). The
# marker file remembers it once seen, as the log rolls over.
answers() {
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || return 1
  [ -f "$DIR/started" ] && return 0
  grep -q "Kafka Server started" "$DIR/logs/server.log" 2>/dev/null || return 1
  touch "$DIR/started"
}

write_config() {
  mkdir -p "$DIR/data" "$DIR/logs"
  cat >"$DIR/server.properties" <<EOF
# Written by scripts/kafka.sh: a single KRaft node for tests.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://$ADDR
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DIR/data
# One broker: every internal topic and every topic created with the default
# replication factor (-1, as kafkabus.EnsureTopics asks) has one replica.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
num.partitions=3
auto.create.topics.enable=false
delete.topic.enable=true
# Tests start consumer groups often: no 3 s wait before the first rebalance,
# and short sessions allowed so a test's member timeouts are honoured.
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
group.consumer.min.session.timeout.ms=1000
group.consumer.min.heartbeat.interval.ms=500
# Small segments and a short retention: test data stays small on disk.
log.segment.bytes=16777216
log.retention.hours=2
log.retention.check.interval.ms=60000
# A broker restarted after a crash re-registers once its previous session
# has expired: 3 s instead of 9 s (the tests kill and restart brokers).
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
EOF
  cat >"$DIR/log4j2.yaml" <<EOF
Configuration:
  Appenders:
    RollingFile:
      name: file
      fileName: "$DIR/logs/server.log"
      filePattern: "$DIR/logs/server.log.%i"
      PatternLayout: { pattern: "[%d] %p %m (%c)%n" }
      SizeBasedTriggeringPolicy: { size: 20MB }
      DefaultRolloverStrategy: { max: 2 }
  Loggers:
    Root: { level: INFO, AppenderRef: [{ ref: file }] }
    Logger:
      - { name: kafka.request.logger, level: WARN }
      - { name: org.apache.kafka.clients, level: WARN }
EOF
}

java_run() { # class args…
  java -Xmx"$HEAP" -Xms128m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$DIR/log4j2.yaml" -cp "$JARS/*" "$@"
}

start() {
  if pid=$(running_pid); then
    log "already running (pid $pid)"
  else
    ensure_jars
    write_config
    if [ ! -f "$DIR/data/meta.properties" ]; then
      local cluster_id
      cluster_id=$(java_run kafka.tools.StorageTool random-uuid | tail -1)
      java_run kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$DIR/server.properties" \
        >"$DIR/logs/format.log" 2>&1 || { cat "$DIR/logs/format.log" >&2; log "format failed"; exit 1; }
    fi
    # A restart after a SIGKILL must find "Kafka Server started" from this run.
    rm -f "$DIR/started"
    [ -f "$DIR/logs/server.log" ] && mv -f "$DIR/logs/server.log" "$DIR/logs/server.log.previous"
    nohup java -Xmx"$HEAP" -Xms128m -XX:+UseG1GC -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$DIR/log4j2.yaml" -cp "$JARS/*" \
      kafka.Kafka "$DIR/server.properties" >"$DIR/logs/stdout.log" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    if [ -n "${EXAM_KAFKA_OWNER_PID:-}" ]; then
      local kpid=$! owner="$EXAM_KAFKA_OWNER_PID"
      # Watches the owner; ends by itself when the broker is gone.
      nohup bash -c "while kill -0 $owner 2>/dev/null && kill -0 $kpid 2>/dev/null; do sleep 1; done
        kill -TERM $kpid 2>/dev/null; sleep 20; kill -KILL $kpid 2>/dev/null" >/dev/null 2>&1 </dev/null &
    fi
  fi
  local deadline=$((SECONDS + ${EXAM_KAFKA_START_TIMEOUT:-120}))
  until answers; do
    if ! running_pid >/dev/null; then
      tail -n 40 "$DIR/logs/stdout.log" "$DIR/logs/server.log" >&2 2>/dev/null || true
      log "broker exited during start-up (logs in $DIR/logs)"; exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 40 "$DIR/logs/server.log" >&2 2>/dev/null || true
      log "broker did not answer on $ADDR in time (logs in $DIR/logs)"; exit 1
    fi
    sleep 0.2
  done
  echo "brokers=$ADDR"
}

stop() { # signal
  local pid
  pid=$(running_pid) || { rm -f "$PIDFILE"; return 0; }
  kill -"$1" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.1
  done
  rm -f "$PIDFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop TERM ;;
  kill) stop KILL ;;
  status)
    if running_pid >/dev/null && answers; then echo "brokers=$ADDR"; else log "not running on $ADDR"; exit 1; fi ;;
  wipe) stop TERM; rm -rf "$DIR" ;;
  jars) ensure_jars; echo "$JARS" ;;
  *) echo "usage: $0 start|stop|kill|status|wipe|jars" >&2; exit 2 ;;
esac
