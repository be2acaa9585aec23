//go:build cassandraexamday

// The exam day on the design card's stack needs a 3-node Cassandra cluster
// and kills one of its nodes, so it is not part of the ordinary suite (which
// runs on one node). Its own build tag, not cassandrafault: it fails now and
// then on one or a few students' first GET of the exam answering 404 (seen in
// the PostgreSQL variant's Kafka outage too), so scripts/cassandra-fault.sh
// runs it only with EXAM_CASSANDRA_EXAMDAY=1 until that is fixed:
//
//	EXAM_TEST_CASSANDRA_DIR=/tmp/cassday scripts/cassandra.sh start 3
//	EXAM_TEST_CASSANDRA_DIR=/tmp/cassday EXAM_TEST_CASSANDRA_HOSTS=127.0.0.1:9042,127.0.0.2:9042,127.0.0.3:9042 \
//	  go test -tags cassandraexamday -run TestExamDayOnCassandra -count=1 -v -timeout 15m ./deploy/multiproc/
//
// or EXAM_CASSANDRA_EXAMDAY=1 scripts/cassandra-fault.sh.

package multiproc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/examhall/exam/internal/cassandratest"
)

// cassandraStudents is smaller than examDayStudents: QUORUM lightweight
// transactions on three JVMs sharing two cores append only a few hundred
// events a second, and the test must stay within CI's time.
const cassandraStudents = 150

// killedNode is the Cassandra node the exam day loses (scripts/cassandra.sh
// numbers the nodes by their loopback address 127.0.0.N).
const (
	killedNode     = "3"
	killedNodeHost = "127.0.0.3:9042"
)

// TestExamDayOnCassandra is the exam day through nginx on the design card's
// stack: the event store on three Cassandra nodes (RF 3, QUORUM), the read
// models on PostgreSQL, Redis, Apache Kafka. One Cassandra node is SIGKILLed
// a fifth of the way through the answers, an API replica a third of the way
// through; no client request may fail, every acknowledged answer is in the
// log exactly once and every score equals the embedded reference run's.
func TestExamDayOnCassandra(t *testing.T) {
	hosts := cassandratest.Hosts(t)
	if len(hosts) < 3 || !strings.Contains(strings.Join(hosts, ","), killedNodeHost) {
		t.Fatalf("the Cassandra exam day needs the 3-node cluster of scripts/cassandra.sh start 3 in EXAM_TEST_CASSANDRA_HOSTS, got %v", hosts)
	}
	if os.Getenv("EXAM_TEST_CASSANDRA_DIR") == "" {
		t.Fatal("EXAM_TEST_CASSANDRA_DIR must name the cluster's folder: scripts/cassandra.sh kills and restarts its node " + killedNode)
	}
	// The keyspace is not dropped at the end: Cassandra 5.0.6 can fail to
	// drop tables whose commit log a killed node replayed (see
	// eventstore/cassandra's fault test); scripts/cassandra-fault.sh wipes
	// the throwaway cluster instead.
	var keyspace string
	store := func(d *deployment) []string {
		keyspace = "examday_" + d.runID
		return []string{
			"EXAM_EVENTSTORE=cassandra",
			"EXAM_CASSANDRA_HOSTS=" + strings.Join(hosts, ","),
			"EXAM_CASSANDRA_KEYSPACE=" + keyspace,
			"EXAM_CASSANDRA_REPLICATION_FACTOR=3",
			"EXAM_CASSANDRA_CONSISTENCY=QUORUM",
		}
	}
	d := startDeploymentOn(t, store)
	t.Logf("deployment up on Cassandra %v, keyspace %s", hosts, keyspace)
	emb := startEmbedded(t, d)
	dist := newClient("nginx", d.baseURL(), d.runID)
	oracle := newClient("embedded", "http://"+emb.addr, d.runID)
	t.Cleanup(func() {
		for _, c := range []*client{dist, oracle} {
			if f := c.failed(); len(f) > 0 {
				t.Errorf("%d failed requests to %s; the first ones:\n%s", len(f), c.name, strings.Join(f[:min(len(f), 25)], "\n"))
			}
		}
	})
	all := seq(cassandraStudents)

	var ds, es *site
	var embDay map[string]resultRow
	var wg sync.WaitGroup
	var distErr, embErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		ds, distErr = setupSite(dist, cassandraStudents)
	}()
	go func() {
		defer wg.Done()
		if es, embErr = setupSite(oracle, cassandraStudents); embErr != nil {
			return
		}
		if embErr = es.loginStudents(all); embErr != nil {
			return
		}
		embDay, embErr = es.playExam("Exam day", all, seedExamDay)
	}()
	wg.Wait()
	if distErr != nil || embErr != nil {
		t.Fatalf("setup: distributed: %v; embedded: %v", distErr, embErr)
	}
	// The feed runs a second behind the clock (eventstore/cassandra's
	// FeedDelay) and each topic has its own consumers: students created just
	// before the exam may not be in the read models yet (a student's GET of
	// the exam then answers 404). The exam day starts on caught-up read
	// models; it is about the faults during it.
	if err := ds.waitStudentsListed(time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := varied(embDay); err != nil {
		t.Fatalf("the reference exam day: %v", err)
	}
	t.Logf("setup done: level, doctor and %d students on both sites; embedded exam day graded", cassandraStudents)

	// Started again at the end whatever happens, on its data: hinted
	// handoff and the next repair bring it up to date.
	var nodeKilled atomic.Bool
	t.Cleanup(func() {
		if nodeKilled.Load() {
			if out, err := cassandraScript("restart", killedNode, "3"); err != nil {
				t.Errorf("scripts/cassandra.sh restart %s 3: %v\n%s", killedNode, err, out)
			}
		}
	})
	killNode := fault{after: 0.2, do: func() (string, error) {
		nodeKilled.Store(true)
		if out, err := cassandraScript("kill", killedNode); err != nil {
			return "", fmt.Errorf("scripts/cassandra.sh kill %s: %v\n%s", killedNode, err, out)
		}
		// The script does nothing for a node it does not know: make sure
		// the node is really gone, or the test proves nothing.
		if conn, err := net.DialTimeout("tcp", killedNodeHost, time.Second); err == nil {
			conn.Close()
			return "", fmt.Errorf("Cassandra node %s still answers on %s after scripts/cassandra.sh kill", killedNode, killedNodeHost)
		}
		return "Cassandra node " + killedNode + " (" + killedNodeHost + ") SIGKILLed", nil
	},
		// An append in flight on the killed coordinator leaves a pending
		// feed row: the feed (so the relay, the read models and the
		// grader) waits up to the store's AbandonAfter (30 s) for it.
		lag: time.Minute,
	}
	numbers := examDay(t, d, ds, all, embDay, killNode)
	for _, p := range d.procs {
		if !p.running() {
			t.Errorf("%s is not running at the end of the test:\n%s", p.name, p.tail(20))
		}
	}
	writeNumbersTo(t, "multiproc-cassandra.txt", "3-node Cassandra (RF 3, QUORUM) event store, PostgreSQL read models, Redis, Apache Kafka", numbers)
}

// cassandraScript runs scripts/cassandra.sh with the test's environment
// (EXAM_TEST_CASSANDRA_DIR names the cluster).
func cassandraScript(args ...string) ([]byte, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("bash", append([]string{filepath.Join(dir, "..", "..", "scripts", "cassandra.sh")}, args...)...)
	cmd.Env = os.Environ()
	return cmd.CombinedOutput()
}
