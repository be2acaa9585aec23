// Package cassandratest gives tests a real Apache Cassandra: the cluster
// named by EXAM_TEST_CASSANDRA_HOSTS (comma-separated host:port, what
// scripts/test.sh exports after `scripts/cassandra.sh start`), or else one
// node it starts itself with scripts/cassandra.sh, under a lock file so
// that the test binaries `go test ./...` runs in parallel share it. A node
// the helper started keeps running after the tests (stop it with
// `scripts/cassandra.sh stop`): starting one costs half a minute. Tests
// never skip for want of Cassandra: without Java, Maven or a node they fail.
package cassandratest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gocql/gocql"
)

var (
	once     sync.Once
	hosts    []string
	startErr error
)

// Hosts returns the test cluster's contact points, starting a node if
// none is named or running; it fails the test when it cannot.
func Hosts(t testing.TB) []string {
	t.Helper()
	once.Do(func() { hosts, startErr = findOrStart() })
	if startErr != nil {
		t.Fatalf("no Cassandra for the tests: %v\n"+
			"Start one with scripts/cassandra.sh start (needs a JDK 17 and Maven: scripts/ensure-java.sh),\n"+
			"or name a running cluster in EXAM_TEST_CASSANDRA_HOSTS=host:port,…", startErr)
	}
	return hosts
}

func findOrStart() ([]string, error) {
	if env := os.Getenv("EXAM_TEST_CASSANDRA_HOSTS"); env != "" {
		hs := strings.Split(env, ",")
		if err := waitCQL(hs[0], 2*time.Minute); err != nil {
			return nil, fmt.Errorf("EXAM_TEST_CASSANDRA_HOSTS=%s: %w", env, err)
		}
		return hs, nil
	}
	const local = "127.0.0.1:9042"
	if answers(local) {
		return []string{local}, nil
	}
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	// One starter at a time across test binaries; the others wait for the
	// lock, then find the node running.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "examhall-cassandra.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if answers(local) {
		return []string{local}, nil
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "cassandra.sh"), "start", "1")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("scripts/cassandra.sh start: %v\n%s", err, out)
	}
	if err := waitCQL(local, time.Minute); err != nil {
		return nil, err
	}
	return []string{local}, nil
}

func answers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// waitCQL waits until a CQL session opens on host.
func waitCQL(host string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		cl := gocql.NewCluster(host)
		cl.Timeout, cl.ConnectTimeout = 5*time.Second, 5*time.Second
		s, err := cl.CreateSession()
		if err == nil {
			s.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("CQL does not answer on %s: %w", host, err)
		}
		time.Sleep(time.Second)
	}
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "cassandra.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("scripts/cassandra.sh not found above the test's directory")
		}
		dir = parent
	}
}

// Keyspace returns a fresh keyspace name starting with prefix (which the
// caller's store creates), dropped when the test ends.
func Keyspace(t testing.TB, prefix string) string {
	t.Helper()
	hs := Hosts(t)
	var b [5]byte
	_, _ = rand.Read(b[:])
	ks := prefix + hex.EncodeToString(b[:])
	t.Cleanup(func() { Drop(t, hs, ks) })
	return ks
}

// Drop drops keyspace ks if it exists, failing the test if it cannot.
func Drop(t testing.TB, hs []string, ks string) {
	if err := DropKeyspace(hs, ks); err != nil {
		t.Error(err)
	}
}

// HostsStarted returns the hosts an earlier Hosts call found (nil if none),
// for TestMain's clean-up.
func HostsStarted() []string { return hosts }

// DropKeyspace drops keyspace ks if it exists.
func DropKeyspace(hs []string, ks string) error {
	cl := gocql.NewCluster(hs...)
	cl.Timeout, cl.ConnectTimeout = 30*time.Second, 10*time.Second
	s, err := cl.CreateSession()
	if err != nil {
		return fmt.Errorf("drop keyspace %s: %w", ks, err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A node that has just restarted may not know the schema yet: retry.
	var err2 error
	for range 10 {
		if err2 = s.Query("DROP KEYSPACE IF EXISTS " + ks).WithContext(ctx).Exec(); err2 == nil {
			return nil
		}
		time.Sleep(3 * time.Second)
	}
	return fmt.Errorf("drop keyspace %s: %w", ks, err2)
}
