// Package multiproc holds the multi-process test of the distributed
// deployment: it builds cmd/examd once and runs it as separate processes —
// three API replicas behind nginx (deploy/nginx.conf), a relay/grader/
// scheduler process and two projector processes sharing a consumer group —
// over a fresh PostgreSQL database (event store and read models), a private
// Redis and a real Apache Kafka broker of its own (internal/kafkatest:
// scripts/kafka.sh on a free port and data folder), all on loopback.
//
// The test drives a whole exam day through nginx with hundreds of students,
// kills an API replica mid-exam, and compares every score with the same
// scripted exam day run against one embedded examd. It then takes Redis, the
// projectors and Kafka down in turn and checks that nothing is lost: the
// Kafka broker is killed with SIGKILL mid-exam and started again on its
// data, and the read models catch up. Its
// numbers (request rate, latencies, read-model lag) go to the test log and
// to artifacts/multiproc.txt.
//
// TestExamDayOnCassandra (build tag cassandraexamday; EXAM_CASSANDRA_EXAMDAY=1
// scripts/cassandra-fault.sh runs it on three nodes named by
// EXAM_TEST_CASSANDRA_HOSTS) is the same exam
// day with the event store on Cassandra (RF 3, QUORUM) and the read models on
// PostgreSQL: a Cassandra node and an API replica are SIGKILLed mid-exam, and
// the node is started again at the end. Its numbers go to
// artifacts/multiproc-cassandra.txt.
//
// TestExamRoomBehindNginx drives the students' exam room (/exam/) in
// headless Chromium through the same deployment and kills two replicas
// while the student answers: every answer must be on the server once.
//
// It needs nginx (scripts/ensure-nginx.sh), redis-server
// (scripts/ensure-redis.sh), PostgreSQL (scripts/ensure-postgres.sh) and a
// JDK 17 with Maven for Kafka (scripts/ensure-java.sh, run by
// scripts/kafka.sh); a missing one fails the test, naming the script to run.
package multiproc
