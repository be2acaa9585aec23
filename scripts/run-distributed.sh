#!/usr/bin/env bash
# Runs the distributed mode on this machine: PostgreSQL (event store and read
# models), Redis (student documents, login throttle), a Kafka-protocol broker
# (cmd/devkafka, in memory, unless EXAM_KAFKA_BROKERS names a real Kafka),
# three API replicas (examd, role api), one worker process (relay, projector,
# grader, scheduler) and nginx with deploy/nginx.conf in front, on
# http://127.0.0.1:${NGINX_PORT:-8000}. Ctrl-C stops everything.
#
#   EXAM_ADMIN_EMAIL=admin@school.test EXAM_ADMIN_PASSWORD=... scripts/run-distributed.sh
#   BASE=http://127.0.0.1:8000 ADMIN_PASSWORD=... scripts/examday.sh     # in another terminal
#
# State lives in PostgreSQL database ${EXAM_DB:-examhall} (schemas events and
# readmodels) and in ./data/distributed (logs, nginx prefix, JWT secret).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-go.sh
./scripts/ensure-postgres.sh >/dev/null
./scripts/ensure-redis.sh >/dev/null
./scripts/ensure-nginx.sh >/dev/null
: "${EXAM_ADMIN_EMAIL:?set EXAM_ADMIN_EMAIL (and EXAM_ADMIN_PASSWORD) for the bootstrap admin}"
: "${EXAM_ADMIN_PASSWORD:?set EXAM_ADMIN_PASSWORD}"
NGINX_PORT="${NGINX_PORT:-8000}"
DB="${EXAM_DB:-examhall}"
RUN_DIR="$PWD/data/distributed"
mkdir -p "$RUN_DIR/logs" "$RUN_DIR/nginx/logs" bin
go build -o bin/examd ./cmd/examd
go build -o bin/devkafka ./cmd/devkafka

psql -h 127.0.0.1 -U postgres -d postgres -qAtc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE $DB"
PG="postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"

[ -s "$RUN_DIR/jwt.secret" ] || head -c 48 /dev/urandom | base64 | tr -d '\n/+=' > "$RUN_DIR/jwt.secret"
export EXAM_JWT_SECRET; EXAM_JWT_SECRET="$(cat "$RUN_DIR/jwt.secret")"
export EXAM_EVENTSTORE=postgres EXAM_EVENTSTORE_POSTGRES_URL="$PG" EXAM_EVENTSTORE_POSTGRES_SCHEMA=events
export EXAM_READMODEL_POSTGRES_URL="$PG" EXAM_READMODEL_POSTGRES_SCHEMA=readmodels
export EXAM_REDIS_URL="${EXAM_REDIS_URL:-redis://127.0.0.1:6379/0}"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ -z "${EXAM_KAFKA_BROKERS:-}" ]; then
  ./bin/devkafka -addr 127.0.0.1:9092 >"$RUN_DIR/logs/devkafka.log" 2>&1 &
  pids+=($!)
  export EXAM_KAFKA_BROKERS=127.0.0.1:9092
fi

wait_ready() { # url
  for _ in $(seq 1 100); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "run-distributed: $1 never became ready; see $RUN_DIR/logs" >&2; exit 1
}

# The worker first (it bootstraps the admin and creates the topics).
EXAM_ROLES=relay,projector,grader,scheduler EXAM_DATA_DIR="$RUN_DIR/worker" \
  ./bin/examd serve >"$RUN_DIR/logs/worker.log" 2>&1 &
pids+=($!)
: > "$RUN_DIR/nginx/upstreams.conf"
for i in 1 2 3; do
  port=$((8080 + i))
  EXAM_ROLES=api EXAM_HTTP_ADDR="127.0.0.1:$port" EXAM_DATA_DIR="$RUN_DIR/api$i" \
    ./bin/examd serve >"$RUN_DIR/logs/api$i.log" 2>&1 &
  pids+=($!)
  echo "server 127.0.0.1:$port max_fails=2 fail_timeout=5s;" >> "$RUN_DIR/nginx/upstreams.conf"
done
for i in 1 2 3; do wait_ready "http://127.0.0.1:$((8080 + i))/readyz"; done

cp deploy/nginx.conf "$RUN_DIR/nginx/nginx.conf"
echo "listen 127.0.0.1:$NGINX_PORT;" > "$RUN_DIR/nginx/listen.conf"
user_directive=""; [ "$(id -u)" -eq 0 ] && user_directive="user root;"
nginx -p "$RUN_DIR/nginx" -c "$RUN_DIR/nginx/nginx.conf" -e "$RUN_DIR/nginx/logs/error.log" \
  -g "daemon off; $user_directive" &
pids+=($!)
wait_ready "http://127.0.0.1:$NGINX_PORT/readyz"
echo "distributed exam platform on http://127.0.0.1:$NGINX_PORT (admin: $EXAM_ADMIN_EMAIL); logs in $RUN_DIR/logs; Ctrl-C stops it"
wait -n "${pids[@]}"
echo "run-distributed: a process exited; stopping" >&2
