#!/usr/bin/env bash
# Runs every test: vet, the whole suite with the race detector, and the fuzz
# targets' seed corpora (go test runs them). It installs or starts what the
# tests talk to: PostgreSQL, Redis, nginx (the multi-process exam day),
# Chromium (the web admin's and the exam room's browser tests), Apache Kafka and
# Apache Cassandra (both assembled from Maven Central). Fails loudly if a dependency
# the tests need is missing; nothing is skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-go.sh
./scripts/ensure-postgres.sh
./scripts/ensure-redis.sh
./scripts/ensure-nginx.sh
./scripts/ensure-chromium.sh
# A real Apache Kafka (scripts/kafka.sh: JDK 17 + Maven, jars cached outside
# the checkout), fresh for this run and shared by every package's Kafka tests
# through EXAM_TEST_KAFKA_BROKERS; tests that kill a broker start their own.
export EXAM_KAFKA_PORT="${EXAM_KAFKA_PORT:-19092}"
./scripts/kafka.sh wipe
./scripts/kafka.sh start
export EXAM_TEST_KAFKA_BROKERS="127.0.0.1:$EXAM_KAFKA_PORT"
# A real Apache Cassandra 5.0 node (scripts/cassandra.sh, the same JDK and jar
# cache) for the Cassandra event store's conformance suite, shared through
# EXAM_TEST_CASSANDRA_HOSTS; the three-node fault test runs after the suite.
export EXAM_TEST_CASSANDRA_DIR="${EXAM_TEST_CASSANDRA_DIR:-/tmp/examhall-cassandra}"
./scripts/cassandra.sh wipe
trap './scripts/kafka.sh wipe; ./scripts/cassandra.sh wipe' EXIT
EXAM_TEST_CASSANDRA_HOSTS=$(./scripts/cassandra.sh start 1)
export EXAM_TEST_CASSANDRA_HOSTS
go version
go mod download
echo "== go vet"
go vet ./...
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
echo "== go test -race"
go test -race -count=1 -timeout 30m ./... 2>&1 | tee /tmp/exam-test.log
echo "== Cassandra: one node of three SIGKILLed mid-run (RF 3, QUORUM)"
./scripts/cassandra.sh wipe   # the fault test's three nodes use the same ports
unset EXAM_TEST_CASSANDRA_HOSTS
EXAM_TEST_CASSANDRA_DIR3=/tmp/examhall-cassandra3 ./scripts/cassandra-fault.sh 2>&1 | tee /tmp/exam-cassandra-fault.log
