// Package kafkatest gives tests a real Apache Kafka broker (scripts/kafka.sh:
// Kafka 4.x from Maven Central, one KRaft node on loopback).
//
// Brokers returns the broker a test binary shares: the one named by
// EXAM_TEST_KAFKA_BROKERS (scripts/test.sh starts one for the whole suite),
// or else one this binary starts once, on its own free port and data folder,
// and stops when the tests end (the package's TestMain must call Main). It
// waits until the broker answers a metadata request. Nothing is ever
// skipped: without Java, Maven or a broker that answers, the test fails.
//
// Several packages and runs share a broker, so every test names its topics
// and consumer groups with Name. Tests that stop or kill a broker start a
// private one with Start.
package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// EnvBrokers names a running broker (comma-separated host:port) to use
// instead of starting one.
const EnvBrokers = "EXAM_TEST_KAFKA_BROKERS"

// readyTimeout bounds how long a broker may take to answer after its
// script returned (the script itself waits for "Kafka Server started").
const readyTimeout = 60 * time.Second

var (
	mainCalled bool
	sharedOnce sync.Once
	shared     *Broker
	sharedAddr []string
	sharedErr  error
)

// Main runs the tests and then stops the broker Brokers started, if any.
// Use it in the TestMain of every package that calls Brokers:
//
//	func TestMain(m *testing.M) { os.Exit(kafkatest.Main(m)) }
func Main(m *testing.M) int {
	mainCalled = true
	code := m.Run()
	if shared != nil {
		if err := shared.stop("stop"); err != nil {
			fmt.Fprintln(os.Stderr, "kafkatest:", err)
		}
		_ = os.RemoveAll(shared.Dir)
	}
	return code
}

// Brokers returns the bootstrap addresses of the test binary's shared
// broker, starting it on first use unless EXAM_TEST_KAFKA_BROKERS names one.
func Brokers(t testing.TB) []string {
	t.Helper()
	sharedOnce.Do(func() {
		if env := strings.TrimSpace(os.Getenv(EnvBrokers)); env != "" {
			for _, b := range strings.Split(env, ",") {
				if b = strings.TrimSpace(b); b != "" {
					sharedAddr = append(sharedAddr, b)
				}
			}
		} else {
			if !mainCalled {
				sharedErr = errors.New("kafkatest: the package's TestMain must call kafkatest.Main (it stops the broker Brokers starts)")
				return
			}
			shared, sharedErr = startBroker()
			if sharedErr == nil {
				sharedAddr = []string{shared.Addr}
			}
		}
		if sharedErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
			defer cancel()
			sharedErr = WaitReady(ctx, sharedAddr)
		}
	})
	if sharedErr != nil {
		t.Fatalf("kafkatest: no Kafka broker (set %s to a running one, or install a JDK 17 and Maven): %v", EnvBrokers, sharedErr)
	}
	return append([]string(nil), sharedAddr...)
}

var (
	runID   = randomHex(4)
	badName = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Name returns base made unique to this test in this run (a topic or group
// name: letters, digits, '.', '_' and '-' only), so tests sharing a broker
// never see each other's records or members.
func Name(t testing.TB, base string) string {
	t.Helper()
	test := strings.Trim(badName.ReplaceAllString(t.Name(), "_"), "_")
	if len(test) > 80 {
		test = test[len(test)-80:]
	}
	return fmt.Sprintf("%s.%s.%s.%s", base, test, runID, randomHex(3))
}

// WaitReady returns once a broker at one of the addresses answers a
// metadata request and names a controller (it can then create topics).
func WaitReady(ctx context.Context, brokers []string) error {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Net.DialTimeout = 2 * time.Second
	cfg.Metadata.Retry.Max = 0
	var last error
	for {
		cl, err := sarama.NewClient(brokers, cfg)
		if err == nil {
			_, err = cl.Controller()
			_ = cl.Close()
			if err == nil {
				return nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafkatest: broker %v never answered: %w (last: %v)", brokers, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// CreateTopics creates the topics with the given number of partitions (the
// broker's default replication factor) and waits until every partition has
// a leader, so a test's first produce does not race the creation.
func CreateTopics(t testing.TB, brokers []string, partitions int, topics ...string) {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	admin, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		t.Fatalf("kafkatest: admin: %v", err)
	}
	defer admin.Close()
	for _, topic := range topics {
		err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: int32(partitions), ReplicationFactor: -1}, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			t.Fatalf("kafkatest: create topic %s: %v", topic, err)
		}
	}
	if err := WaitLeaders(brokers, 30*time.Second, topics...); err != nil {
		t.Fatal(err)
	}
}

// WaitLeaders waits until every partition of the topics has a leader.
func WaitLeaders(brokers []string, timeout time.Duration, topics ...string) error {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cl, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return fmt.Errorf("kafkatest: client: %w", err)
	}
	defer cl.Close()
	deadline := time.Now().Add(timeout)
	for {
		err := cl.RefreshMetadata(topics...)
		if err == nil {
			err = leadersOf(cl, topics)
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kafkatest: topics %v without leaders after %s: %w", topics, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func leadersOf(cl sarama.Client, topics []string) error {
	for _, topic := range topics {
		parts, err := cl.Partitions(topic)
		if err != nil {
			return err
		}
		for _, p := range parts {
			if _, err := cl.Leader(topic, p); err != nil {
				return fmt.Errorf("%s/%d: %w", topic, p, err)
			}
		}
	}
	return nil
}

// repoRoot is the module root: the first folder above the working
// directory (a test runs in its package's folder) holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("kafkatest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// script runs scripts/kafka.sh with the broker's settings.
func script(env []string, verb string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "kafka.sh"), verb)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("kafkatest: scripts/kafka.sh %s: %w\n%s", verb, err, stderr.String())
	}
	return string(out), nil
}
