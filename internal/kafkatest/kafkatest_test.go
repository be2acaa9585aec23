package kafkatest_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/examhall/exam/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMain(m *testing.M) { os.Exit(kafkatest.Main(m)) }

func produce(t *testing.T, brokers []string, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range n {
		r := &kgo.Record{Topic: topic, Key: []byte("k"), Value: fmt.Appendf(nil, "v%d", i)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
}

func consume(t *testing.T, brokers []string, topic string, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s", len(got), n, topic)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// The shared broker is a real Kafka: a created topic has its partitions,
// and what is produced with acks=all is read back in order.
func TestSharedBrokerProducesAndConsumes(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	topic := kafkatest.Name(t, "kafkatest")
	kafkatest.CreateTopics(t, brokers, 3, topic)
	produce(t, brokers, topic, 5)
	if got := strings.Join(consume(t, brokers, topic, 5), ","); got != "v0,v1,v2,v3,v4" {
		t.Fatalf("read %s", got)
	}
}

// Names are valid topic names and differ between calls and tests.
func TestNameIsUniqueAndValid(t *testing.T) {
	a, b := kafkatest.Name(t, "exam.exams"), kafkatest.Name(t, "exam.exams")
	if a == b {
		t.Fatalf("two names %q", a)
	}
	for _, n := range []string{a, b} {
		if !strings.HasPrefix(n, "exam.exams.") || strings.ContainsAny(n, "/ ") || len(n) > 249 {
			t.Errorf("bad topic name %q", n)
		}
	}
}

// A private broker killed with SIGKILL and started again on its data still
// has every acknowledged record.
func TestPrivateBrokerKeepsAcknowledgedRecordsAcrossSIGKILL(t *testing.T) {
	b := kafkatest.Start(t)
	topic := kafkatest.Name(t, "kill")
	kafkatest.CreateTopics(t, b.Brokers(), 1, topic)
	produce(t, b.Brokers(), topic, 3)
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := kafkatest.WaitReady(ctxTimeout(t, 2*time.Second), b.Brokers()); err == nil {
		t.Fatal("the killed broker still answers")
	}
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := kafkatest.WaitLeaders(b.Brokers(), 30*time.Second, topic); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(consume(t, b.Brokers(), topic, 3), ","); got != "v0,v1,v2" {
		t.Fatalf("after the restart the topic holds %s", got)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
