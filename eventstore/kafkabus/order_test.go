package kafkabus_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/examhall/exam/eventstore/kafkabus"
	"github.com/examhall/exam/eventstore/relay"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// When produce requests fail half way through a Publish, and the caller
// republishes the whole run (as the relay does), every consumer still sees
// each stream's versions in order the first time it sees them: when version
// v first appears, versions 1..v-1 have all appeared before it. A consumer
// that skips versions it already applied (projections.Runner) then misses
// nothing. Pipelining a stream's events into one SendMessages breaks this:
// sarama moves on to later records of a partition after an earlier batch
// failed, so v5 can land before v2 was ever written.
func TestFailedPublishLeavesEachStreamAPrefix(t *testing.T) {
	const topic = "exam.attempts"
	c, brokers := cluster(t, kfake.SeedTopics(2, topic))
	// The first attempts each lose one produce request with an error sarama
	// does not retry: the first request of the attempt, then the third, then
	// the second; later attempts lose nothing.
	var (
		mu       sync.Mutex
		attempt  int
		inCall   int // produce requests seen during this attempt
		failed   int
		requests int
	)
	failAt := map[int]int{1: 1, 2: 3, 3: 2}
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		requests++
		inCall++
		if failAt[attempt] != inCall {
			return nil, nil, false
		}
		failed++
		req := kreq.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.MessageTooLarge.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	pub := newPublisher(t, kafkabus.PublisherConfig{Brokers: brokers, Logger: discard, MaxRetries: 1, RetryBackoff: time.Millisecond})

	recs := records("attempt", 4, 15)
	attempts := 0
	for {
		attempts++
		mu.Lock()
		attempt, inCall = attempts, 0
		mu.Unlock()
		msgs := make([]*message.Message, len(recs))
		for i, r := range recs {
			msgs[i] = relay.EncodeMessage(r)
		}
		err := pub.Publish(topic, msgs...)
		if err == nil {
			break
		}
		if attempts == 20 {
			t.Fatalf("still failing after %d attempts: %v", attempts, err)
		}
	}
	mu.Lock()
	t.Logf("%d publish attempts, %d of %d produce requests failed", attempts, failed, requests)
	if failed != 3 || attempts != 4 {
		t.Fatalf("want 3 failed attempts and a fourth that succeeds")
	}
	mu.Unlock()

	// Read everything there is: every record of every attempt that landed.
	var total int
	for _, p := range c.PartitionInfos(topic) {
		total += int(p.HighWatermark)
	}
	all := consumeAll(t, brokers, topic, total, 10*time.Second)
	byPartition := map[int32][]string{}
	seen := map[string]int64{} // stream → highest version seen
	for _, kr := range all {
		v, _ := header(kr, "ce_streamversion")
		version, _ := strconv.ParseInt(v, 10, 64)
		stream := string(kr.Key)
		byPartition[kr.Partition] = append(byPartition[kr.Partition], stream+"/"+v)
		if version > seen[stream]+1 {
			t.Errorf("stream %s: version %d is the first after version %d: a consumer skipping applied versions loses %d..%d",
				stream, version, seen[stream], seen[stream]+1, version-1)
		}
		seen[stream] = max(seen[stream], version)
	}
	for s, v := range seen {
		if v != 15 {
			t.Errorf("stream %s ends at version %d, want 15", s, v)
		}
	}
	if t.Failed() {
		t.Logf("log: %v", byPartition)
	}
}
