#!/usr/bin/env bash
# The Cassandra fault tests: starts three nodes (RF 3, QUORUM) in their own
# data folder, runs eventstore/cassandra's TestNodeKilled (it SIGKILLs node
# 3 mid-run and restarts it at the end), then, with EXAM_CASSANDRA_EXAMDAY=1,
# deploy/multiproc's TestExamDayOnCassandra (the exam day through nginx on
# the 3-node cluster, a real Kafka broker of its own, PostgreSQL read models
# and Redis; it SIGKILLs node 3 and an API replica mid-exam and restarts the
# node at the end; opt-in while a student's first GET of the exam answers
# 404 now and then, see deploy/multiproc/cassandra_test.go), then stops the
# nodes and deletes their data.
# scripts/test.sh runs it after the whole suite, when the cores are free for three JVMs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-go.sh
export EXAM_TEST_CASSANDRA_DIR=${EXAM_TEST_CASSANDRA_DIR3:-/tmp/examhall-cassandra3}
hosts=$(scripts/cassandra.sh start 3)
trap 'scripts/cassandra.sh wipe' EXIT # a throwaway cluster (see fault_test.go)
export EXAM_TEST_CASSANDRA_HOSTS=$hosts
# Both run even when the first fails (it restarts its node either way).
rc=0
go test -tags cassandrafault -run TestNodeKilled -count=1 -v -timeout 15m ./eventstore/cassandra/ || rc=1
if [ "${EXAM_CASSANDRA_EXAMDAY:-}" = 1 ]; then
  go test -tags cassandraexamday -run TestExamDayOnCassandra -count=1 -v -timeout 15m ./deploy/multiproc/ || rc=1
fi
exit $rc
