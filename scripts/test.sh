#!/usr/bin/env bash
# Runs every test: vet, the whole suite with the race detector, and the fuzz
# targets' seed corpora (go test runs them). It installs or starts what the
# tests talk to: PostgreSQL, Redis, nginx (the multi-process exam day),
# Chromium (the web admin's browser tests) and Apache Kafka. Fails loudly if a dependency
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
trap './scripts/kafka.sh wipe' EXIT
go version
go mod download
echo "== go vet"
go vet ./...
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
echo "== go test -race"
go test -race -count=1 -timeout 30m ./... 2>&1 | tee /tmp/exam-test.log
