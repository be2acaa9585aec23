#!/usr/bin/env bash
# The Cassandra fault test: starts three nodes (RF 3, QUORUM) in their own
# data folder, runs eventstore/cassandra's TestNodeKilled (it SIGKILLs node
# 3 mid-run and restarts it at the end), then stops the nodes and deletes their data.
# scripts/test.sh runs it after the whole suite, when the cores are free for three JVMs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-go.sh
export EXAM_TEST_CASSANDRA_DIR=${EXAM_TEST_CASSANDRA_DIR3:-/tmp/examhall-cassandra3}
hosts=$(scripts/cassandra.sh start 3)
trap 'scripts/cassandra.sh wipe' EXIT # a throwaway cluster (see fault_test.go)
EXAM_TEST_CASSANDRA_HOSTS=$hosts go test -tags cassandrafault -run TestNodeKilled -count=1 -v -timeout 15m ./eventstore/cassandra/
