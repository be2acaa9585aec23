#!/usr/bin/env bash
# Runs every test: vet, the whole suite with the race detector, and the fuzz
# targets' seed corpora (go test runs them). It installs or starts what the
# tests talk to: PostgreSQL, Redis, nginx (the multi-process exam day) and
# Chromium (the web admin's browser tests). Fails loudly if a dependency
# the tests need is missing; nothing is skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-go.sh
./scripts/ensure-postgres.sh
./scripts/ensure-redis.sh
./scripts/ensure-nginx.sh
./scripts/ensure-chromium.sh
go version
go mod download
echo "== go vet"
go vet ./...
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
echo "== go test -race"
go test -race -count=1 -timeout 30m ./... 2>&1 | tee /tmp/exam-test.log
