package platform_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/kafkabus"
	"github.com/examhall/exam/eventstore/relay"
	"github.com/examhall/exam/internal/pgtest"
	"github.com/examhall/exam/projections"
	"github.com/examhall/exam/projections/pgread"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Two projector instances share the results projection's permanent consumer
// group over topics of 8 partitions. One dies like a crashed process: its
// connections to Kafka are cut (no LeaveGroup, no final offset commit) while
// a message is in flight. The coordinator expels it after the session
// timeout and the survivor takes its partitions over from their last
// committed offsets, so it receives again everything the dead one had
// applied. The dead one's in-flight write then lands late, as a paused
// process's would, after the survivor applied newer versions of that stream.
// The per-stream checkpoints in rm_applied make the redeliveries and the late
// write change nothing: every result ends as the newest version of its
// stream says.
func TestProjectorInstanceDiesAnotherTakesOverItsPartitions(t *testing.T) {
	const (
		partitions = 8
		exams      = 40
		students   = 49 // per exam; student 0 is scored twice
		topic      = "exam.grades"
	)
	ctx := context.Background()
	rm, conn, schema := freshReadModel(t)
	cutter := newClientCutter()
	brokers := failoverCluster(t, kfake.ListenFn(cutter.listen))
	group := "exam.projector." + rm.Results().Name()

	// The survivor commits every second, as in production. The doomed
	// instance would commit only once an hour: everything it applies is
	// still uncommitted when it dies, the worst case for redelivery.
	shared := &applyLedger{applied: map[streamVersion][]string{}}
	survivor := startProjector(t, brokers, group, topic, "projector-survivor", time.Second, rm.Results(), shared, testLog(t))
	doomed := startProjector(t, brokers, group, topic, "projector-doomed", time.Hour, rm.Results(), shared, slog.New(slog.DiscardHandler))

	// Publish only once the group has settled: both members own partitions
	// and no rebalance (which would commit the doomed one's offsets) comes.
	assigned := waitGroup(t, brokers, group, topic, partitions, survivor.id, doomed.id)
	t.Logf("assignment: %v", assigned)

	// One exam of the doomed member's partitions is graded late: its events
	// start a third of the way through the log. The doomed member stalls in
	// its first one (v1: student 0's first score, which v6 replaces): that
	// is the message in flight when it dies.
	recs, want := gradeStreams(exams, students, true)
	n := len(recs)
	late := ""
	for e := range exams {
		if s := domain.GradesStream(fmt.Sprintf("exam%03d", e)); slices.Contains(assigned[doomed.id], partitionOf(s, partitions)) {
			late = s
			break
		}
	}
	if late == "" {
		t.Fatalf("no grade stream hashes to the doomed member's partitions %v", assigned[doomed.id])
	}
	recs = delayStream(recs, late, n/3)
	doomed.proj.stallOn(streamVersion{late, 1})
	t.Cleanup(doomed.proj.unstall) // never leave it blocked
	publishRecords(t, brokers, recs)

	// Both make progress until the doomed member holds the late stream's v1;
	// then it dies abruptly.
	select {
	case <-doomed.proj.stalled:
	case <-time.After(60 * time.Second):
		t.Fatalf("the doomed member never received %s v1 (survivor applied %d, doomed %d)", late,
			survivor.proj.appliedCount(), doomed.proj.appliedCount())
	}
	if s, d := survivor.proj.appliedCount(), doomed.proj.appliedCount(); s == 0 || d == 0 {
		t.Fatalf("before the kill the survivor applied %d and the doomed member %d; both should have worked", s, d)
	}
	killedAt := time.Now()
	doomed.proj.dead.Store(true) // a dead process writes nothing more
	shared.killed.Store(true)
	cutter.kill(doomed.id) // its sockets die: no LeaveGroup, no offset commit
	doomed.cancel()
	closed := make(chan struct{})
	go func() { _ = doomed.sub.Close(); close(closed) }()
	t.Cleanup(func() {
		select {
		case <-closed:
		case <-time.After(20 * time.Second):
			t.Log("the dead subscriber did not finish closing within 20s")
		}
	})
	t.Logf("killed %s after %d applies (survivor %d)", doomed.id, doomed.proj.appliedCount(), survivor.proj.appliedCount())

	// The group shrinks to the survivor, which owns every partition.
	after := waitGroup(t, brokers, group, topic, partitions, survivor.id)
	t.Logf("rebalanced %s after the kill: %v", time.Since(killedAt).Round(time.Millisecond), after)

	// The survivor reads every partition to its end.
	ends := endOffsets(t, brokers, topic)
	// (Its own partitions it may have finished before the kill; the dead
	// member's it must read after it.)
	waitFor(t, 60*time.Second, "the survivor reaches the end of every partition", func() (bool, string) {
		all, afterKill := survivor.proj.maxOffsets(false), survivor.proj.maxOffsets(true)
		for p, end := range ends {
			got, ok := all[p]
			if slices.Contains(assigned[doomed.id], p) {
				got, ok = afterKill[p]
			}
			if end > 0 && (!ok || got != end-1) {
				return false, fmt.Sprintf("ends %v, survivor %v (after the kill %v)", ends, all, afterKill)
			}
		}
		return true, ""
	})
	t.Logf("survivor caught up %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	survivor.stop()

	// Now the dead member's in-flight transaction commits, late: the stale v1
	// of the late stream, after the survivor applied its v6 and beyond.
	doomed.proj.unstall()
	select {
	case err := <-doomed.proj.zombie:
		if err != nil {
			t.Errorf("the late write of %s v1: %v", late, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the dead member's in-flight apply never returned")
	}

	// Before the kill each member read only its own partitions.
	doomedBefore, survivorBefore := doomed.proj.partitions(false), survivor.proj.partitions(false)
	if len(doomedBefore) == 0 || len(survivorBefore) == 0 {
		t.Fatalf("before the kill: doomed read partitions %v, survivor %v; both should have worked", doomedBefore, survivorBefore)
	}
	for _, p := range doomedBefore {
		if slices.Contains(survivorBefore, p) {
			t.Errorf("partition %d was read by both members before the kill (doomed %v, survivor %v)", p, doomedBefore, survivorBefore)
		}
		if !slices.Contains(assigned[doomed.id], p) {
			t.Errorf("the doomed member read partition %d, not assigned to it (%v)", p, assigned[doomed.id])
		}
	}
	// After it, the survivor received the dead member's partitions.
	survivorAfter := survivor.proj.partitions(true)
	for _, p := range doomedBefore {
		if !slices.Contains(survivorAfter, p) {
			t.Errorf("partition %d of the dead member never reached the survivor (survivor after the kill: %v)", p, survivorAfter)
		}
	}

	// Nothing the dead member applied was committed, so the survivor got
	// every one of those records again: redelivered, applied once.
	doomedApplied := doomed.proj.applied()
	redelivered := 0
	shared.mu.Lock()
	for _, sv := range doomedApplied {
		if slices.Contains(shared.applied[sv], survivor.id+"/after") {
			redelivered++
		} else {
			t.Errorf("%s v%d, applied by the dead member, was not delivered again to the survivor", sv.stream, sv.version)
		}
	}
	calls := 0
	for _, by := range shared.applied {
		calls += len(by)
	}
	distinct := len(shared.applied)
	shared.mu.Unlock()
	if redelivered == 0 {
		t.Errorf("no redelivery observed: the dead member applied %d records", len(doomedApplied))
	}
	if distinct != n {
		t.Errorf("%d distinct (stream, version) applied, published %d", distinct, n)
	}
	if calls <= n {
		t.Errorf("%d successful ApplyRecord calls for %d events: the takeover redelivered nothing", calls, n)
	}
	t.Logf("%d events, %d successful ApplyRecord calls (%d by the dead member, all %d delivered again to the survivor)",
		n, calls, len(doomedApplied), redelivered)

	// The read model holds every result exactly once, as the newest version
	// of its stream says (student 0 of every exam was rescored at v6, after
	// its v1: a replayed v1 must not win).
	var rows int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "rm_results"}.Sanitize()).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(want) {
		t.Errorf("rm_results has %d rows, want %d", rows, len(want))
	}
	for e := range exams {
		examID := fmt.Sprintf("exam%03d", e)
		got, err := rm.ExamResults(ctx, examID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != students {
			t.Errorf("%s: %d results, want %d", examID, len(got), students)
		}
		for _, row := range got {
			w, ok := want[resultKey{examID, row.StudentID}]
			if !ok {
				t.Errorf("unexpected result %s/%s", examID, row.StudentID)
				continue
			}
			if row.Score != w.Score || row.Round != w.Round || row.MaxScore != w.MaxScore || row.AttemptID != w.AttemptID {
				t.Errorf("%s/%s: score %v round %d max %v attempt %s, want %v round %d max %v attempt %s", examID, row.StudentID,
					row.Score, row.Round, row.MaxScore, row.AttemptID, w.Score, w.Round, w.MaxScore, w.AttemptID)
			}
		}
	}
	// The checkpoints: every stream at its last version, every partition's
	// offset at its end (what X-Min-Position readers wait for).
	applied := map[string]int64{}
	rs, err := conn.Query(ctx, "SELECT stream_id, version FROM "+pgx.Identifier{schema, "rm_applied"}.Sanitize()+" WHERE projection = 'results'")
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var s string
		var v int64
		if err := rs.Scan(&s, &v); err != nil {
			t.Fatal(err)
		}
		applied[s] = v
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if len(applied) != exams {
		t.Errorf("rm_applied has %d streams, want %d", len(applied), exams)
	}
	for s, v := range applied {
		if v != students+1 {
			t.Errorf("rm_applied %s at v%d, want v%d", s, v, students+1)
		}
	}
	offsets, err := rm.Offsets(ctx, rm.Results().Name())
	if err != nil {
		t.Fatal(err)
	}
	for p, end := range ends {
		if got, ok := offsets[topic][p]; end > 0 && (!ok || got != end-1) {
			t.Errorf("rm_offsets %s/%d = %d (recorded %v), want %d", topic, p, got, ok, end-1)
		}
	}
}

// --- helpers shared with lag_bench_test.go ---------------------------------

// readModelTestURL is the test PostgreSQL (EXAM_TEST_POSTGRES_URL overrides).
func readModelTestURL() string { return pgtest.URL() }

// pgConn connects to the test database or fails loudly: these tests never
// skip without PostgreSQL.
func pgConn(t testing.TB) *pgx.Conn { return pgtest.Connect(t) }

// freshSchema names a new schema, dropped with everything in it at the end.
func freshSchema(t testing.TB, conn *pgx.Conn, prefix string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := prefix + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// freshReadModel opens the PostgreSQL read models over a fresh schema.
func freshReadModel(t testing.TB) (*pgread.Store, *pgx.Conn, string) {
	t.Helper()
	conn := pgConn(t)
	schema := freshSchema(t, conn, "failover_rm_")
	rm, err := pgread.Open(context.Background(), pgread.Config{URL: readModelTestURL(), Schema: schema, MaxConns: 8})
	if err != nil {
		t.Fatalf("open read models in %s: %v", schema, err)
	}
	t.Cleanup(rm.Close)
	return rm, conn, schema
}

// failoverCluster starts kfake with the platform's topics at 8 partitions
// (created through kafkabus.EnsureTopics, as the platform does) and a group
// session timeout floor low enough for fast failover.
func failoverCluster(t testing.TB, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	topics := make([]string, 0, len(relay.DefaultTopics))
	for _, topic := range relay.DefaultTopics {
		topics = append(topics, topic)
	}
	sort.Strings(topics)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kafkabus.EnsureTopics(ctx, brokers, topics, 8); err != nil {
		t.Fatal(err)
	}
	return brokers
}

// testLog sends warnings and errors to the test log while the test runs.
func testLog(t testing.TB) *slog.Logger {
	w := &tbWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tbWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Logf("%s", p)
	}
	return len(p), nil
}

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

type resultKey struct{ exam, student string }

// gradeStreams makes the grade events of `exams` exams with `students`
// students each, interleaved as concurrent graders append them (round r
// holds version r of every stream; positions follow). With rescore, every
// exam's student 0 is scored again at version 6 with another score, so each
// stream has students+1 events. want is each (exam, student)'s final row.
func gradeStreams(exams, students int, rescore bool) ([]eventstore.Record, map[resultKey]projections.ResultRow) {
	type ev struct {
		student, round int
	}
	plan := make([]ev, 0, students+1)
	for s := range students {
		plan = append(plan, ev{s, 1})
		if rescore && s == 4 {
			plan = append(plan, ev{0, 2}) // version 6
		}
	}
	graded := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var recs []eventstore.Record
	want := map[resultKey]projections.ResultRow{}
	for v := 1; v <= len(plan); v++ {
		for e := range exams {
			step := plan[v-1]
			examID := fmt.Sprintf("exam%03d", e)
			student := fmt.Sprintf("student%03d", step.student)
			score := float64((e*7+step.student*3+step.round*11)%50) + 0.5
			data := domain.AttemptScored{ExamID: examID, AttemptID: fmt.Sprintf("att-%s-%s", examID, student), StudentID: student,
				Round: step.round, Score: score, MaxScore: 50, Answered: 10, GradedAt: graded.Add(time.Duration(len(recs)) * time.Millisecond),
				Questions: []domain.QuestionScore{{QuestionID: "q1", Choices: []string{"b"}, PointsAwarded: score}}}
			body, err := json.Marshal(data)
			if err != nil {
				panic(err)
			}
			pos := uint64(len(recs) + 1)
			recs = append(recs, eventstore.Record{
				EventID: fmt.Sprintf("00000000-0000-4000-8000-%012d", pos), StreamID: domain.GradesStream(examID), Version: int64(v),
				Position: pos, Type: domain.TypeAttemptScored, OccurredAt: data.GradedAt, ActorID: "system:grader", ActorRole: "system",
				CorrelationID: fmt.Sprintf("grade-%d", pos), CausationID: fmt.Sprintf("grade-%d", pos),
				Tags: []string{"exam:" + examID, "student:" + student}, Data: body,
			})
			want[resultKey{examID, student}] = projections.ResultRow{ExamID: examID, StudentID: student, AttemptID: data.AttemptID,
				Score: score, MaxScore: 50, Round: step.round}
		}
	}
	return recs, want
}

// publishRecords publishes records to their topics as the relay does
// (relay.EncodeMessage through the batching kafkabus publisher), in
// batches of 500 in position order.
func publishRecords(t testing.TB, brokers []string, recs []eventstore.Record) {
	t.Helper()
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: brokers, Logger: discardLog})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for start := 0; start < len(recs); start += 500 {
		byTopic := map[string][]*message.Message{}
		for _, r := range recs[start:min(start+500, len(recs))] {
			topic := relay.DefaultTopics[eventstore.Category(r.StreamID)]
			byTopic[topic] = append(byTopic[topic], relay.EncodeMessage(r))
		}
		for topic, msgs := range byTopic {
			if err := pub.Publish(topic, msgs...); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// endOffsets reads where each partition of topic ends.
func endOffsets(t testing.TB, brokers []string, topic string) map[int32]int64 {
	t.Helper()
	eo, err := kafkabus.NewEndOffsets(brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer eo.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := eo.Read(ctx, []string{topic})
	if err != nil {
		t.Fatal(err)
	}
	return ends[topic]
}

// waitFor polls cond every 10ms until it holds, or fails after timeout.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last state: %s)", what, timeout, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGroup waits until the consumer group is stable with exactly the given
// members (by client id), each owning partitions of topic and together all
// of them, and returns client id → partitions.
func waitGroup(t testing.TB, brokers []string, group, topic string, partitions int, members ...string) map[string][]int32 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out map[string][]int32
	waitFor(t, 60*time.Second, fmt.Sprintf("group %s stable with members %v", group, members), func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return false, err.Error()
		}
		if len(resp.Groups) != 1 {
			return false, fmt.Sprintf("%d groups described", len(resp.Groups))
		}
		g := resp.Groups[0]
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			return false, err.Error()
		}
		byClient := map[string][]int32{}
		var all []int32
		for _, m := range g.Members {
			var a kmsg.ConsumerMemberAssignment
			if len(m.MemberAssignment) > 0 {
				if err := a.ReadFrom(m.MemberAssignment); err != nil {
					return false, fmt.Sprintf("member %s assignment: %v", m.MemberID, err)
				}
			}
			byClient[m.ClientID] = []int32{}
			for _, at := range a.Topics {
				if at.Topic == topic {
					byClient[m.ClientID] = append(byClient[m.ClientID], at.Partitions...)
					all = append(all, at.Partitions...)
				}
			}
			slices.Sort(byClient[m.ClientID])
		}
		state := fmt.Sprintf("state %s, members %v", g.State, byClient)
		if g.State != "Stable" || len(g.Members) != len(members) || len(all) != partitions {
			return false, state
		}
		for _, id := range members {
			if len(byClient[id]) == 0 {
				return false, state
			}
		}
		out = byClient
		return true, ""
	})
	return out
}

// projector is one projector "instance": a kafkabus subscriber in the
// projection's consumer group feeding a projections.Runner (Consume).
type projector struct {
	id     string
	sub    message.Subscriber
	cancel context.CancelFunc
	proj   *recordingProjection
	once   sync.Once
}

func (p *projector) stop() {
	p.once.Do(func() {
		p.cancel()
		_ = p.sub.Close()
	})
}

// startProjector starts an instance with client id `id` (which names its
// group member and its connections to the broker).
func startProjector(t testing.TB, brokers []string, group, topic, id string, commitInterval time.Duration,
	inner recordApplier, ledger *applyLedger, log *slog.Logger) *projector {
	t.Helper()
	sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{
		Brokers: brokers, ClientID: id, ConsumerGroup: group, Logger: log,
		SessionTimeout: 4 * time.Second, HeartbeatInterval: 400 * time.Millisecond,
		CommitInterval: commitInterval, ReconnectRetrySleep: 200 * time.Millisecond, NackResendSleep: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &projector{id: id, sub: sub, cancel: cancel, proj: &recordingProjection{id: id, inner: inner, ledger: ledger}}
	if got := projections.Topics(p.proj); len(got) != 1 || got[0] != topic {
		t.Fatalf("the projection reads topics %v, the test watches %s", got, topic)
	}
	if err := projections.NewRunner(log, p.proj).Consume(ctx, sub, kafkabus.Origin); err != nil {
		cancel()
		_ = sub.Close()
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p
}

type streamVersion struct {
	stream  string
	version int64
}

// applyLedger records, across instances, who applied each (stream, version)
// and whether the kill had happened.
type applyLedger struct {
	killed  atomic.Bool
	mu      sync.Mutex
	applied map[streamVersion][]string // "<instance>/before" or "<instance>/after"
}

// partitionOf is the partition the publisher's murmur2 partitioner (the
// Java client's) gives a stream id.
func partitionOf(stream string, partitions int) int32 {
	p, err := sarama.NewMurmur2Partitioner("").Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(stream)}, int32(partitions))
	if err != nil {
		panic(err)
	}
	return p
}

// delayStream moves stream's events (in version order) so that the first
// comes at index from and the rest are spread over the remainder of the
// log; positions are renumbered in the new order.
func delayStream(recs []eventstore.Record, stream string, from int) []eventstore.Record {
	var mine, others []eventstore.Record
	for _, r := range recs {
		if r.StreamID == stream {
			mine = append(mine, r)
		} else {
			others = append(others, r)
		}
	}
	from = min(from, len(others))
	out := append([]eventstore.Record{}, others[:from]...)
	rest := others[from:]
	every := max(1, len(rest)/len(mine))
	for i, r := range mine {
		out = append(out, r)
		lo := min(i*every, len(rest))
		hi := min(lo+every, len(rest))
		if i == len(mine)-1 {
			hi = len(rest)
		}
		out = append(out, rest[lo:hi]...)
	}
	for i := range out {
		out[i].Position = uint64(i + 1)
	}
	return out
}

type delivery struct {
	sv        streamVersion
	from      projections.Delivery
	afterKill bool
}

// recordApplier is a pgread projection: a Projection that applies one
// record at a time.
type recordApplier interface {
	projections.Projection
	ApplyRecord(ctx context.Context, rec eventstore.Record, from projections.Delivery) error
}

// recordingProjection wraps the real projection and records every
// successful ApplyRecord: which record, from which partition and offset.
type recordingProjection struct {
	id     string
	inner  recordApplier
	ledger *applyLedger
	dead   atomic.Bool
	count  atomic.Int64

	mu   sync.Mutex
	done []delivery

	// stall: the first delivery of stall blocks (before applying) until
	// release is closed, then applies with a context nothing cancels, as a
	// paused process would resume, and reports to zombie.
	stall       streamVersion
	stalled     chan struct{}
	release     chan struct{}
	unstallOnce sync.Once
	zombie      chan error
}

func (r *recordingProjection) stallOn(sv streamVersion) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stall = sv
	r.stalled, r.release, r.zombie = make(chan struct{}), make(chan struct{}), make(chan error, 1)
}

func (r *recordingProjection) unstall() { r.unstallOnce.Do(func() { close(r.release) }) }

func (r *recordingProjection) stalls(sv streamVersion) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stalled != nil && sv == r.stall
}

func (r *recordingProjection) Name() string         { return r.inner.Name() }
func (r *recordingProjection) Categories() []string { return r.inner.Categories() }

func (r *recordingProjection) Apply(ctx context.Context, batch []projections.Delivered) error {
	for _, d := range batch {
		if err := r.applyRecord(ctx, d.Record, d.From); err != nil {
			return err
		}
	}
	return nil
}

func (r *recordingProjection) applyRecord(ctx context.Context, rec eventstore.Record, from projections.Delivery) error {
	if r.dead.Load() {
		return context.Canceled
	}
	if r.stalls(streamVersion{rec.StreamID, rec.Version}) {
		select {
		case <-r.stalled: // only the first delivery stalls
		default:
			close(r.stalled)
			<-r.release
			err := r.inner.ApplyRecord(context.WithoutCancel(ctx), rec, from)
			r.zombie <- err
			return err
		}
	}
	after := r.ledger != nil && r.ledger.killed.Load()
	if err := r.inner.ApplyRecord(ctx, rec, from); err != nil {
		return err
	}
	sv := streamVersion{rec.StreamID, rec.Version}
	r.mu.Lock()
	r.done = append(r.done, delivery{sv: sv, from: from, afterKill: after})
	r.mu.Unlock()
	if r.ledger != nil {
		phase := "/before"
		if after {
			phase = "/after"
		}
		r.ledger.mu.Lock()
		r.ledger.applied[sv] = append(r.ledger.applied[sv], r.id+phase)
		r.ledger.mu.Unlock()
	}
	r.count.Add(1)
	return nil
}

func (r *recordingProjection) appliedCount() int { return int(r.count.Load()) }

// partitions lists the partitions delivered before (afterKill false) or
// after the kill.
func (r *recordingProjection) partitions(afterKill bool) []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int32
	for _, d := range r.done {
		if d.afterKill == afterKill && !slices.Contains(out, d.from.Partition) {
			out = append(out, d.from.Partition)
		}
	}
	slices.Sort(out)
	return out
}

// maxOffsets is the highest offset applied per partition (only after the
// kill when afterKill).
func (r *recordingProjection) maxOffsets(afterKill bool) map[int32]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[int32]int64{}
	for _, d := range r.done {
		if d.afterKill || !afterKill {
			if o, ok := out[d.from.Partition]; !ok || d.from.Offset > o {
				out[d.from.Partition] = d.from.Offset
			}
		}
	}
	return out
}

func (r *recordingProjection) applied() []streamVersion {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]streamVersion, 0, len(r.done))
	for _, d := range r.done {
		out = append(out, d.sv)
	}
	return out
}

// clientCutter simulates a process crash for one Kafka client: it wraps
// the broker's listener, learns each connection's client id from the first
// request header, and on kill closes that client's connections and every
// new one it opens — the broker never hears a LeaveGroup or a commit again.
type clientCutter struct {
	mu    sync.Mutex
	conns map[string][]net.Conn
	dead  map[string]bool
}

func newClientCutter() *clientCutter {
	return &clientCutter{conns: map[string][]net.Conn{}, dead: map[string]bool{}}
}

func (c *clientCutter) listen(network, address string) (net.Listener, error) {
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return cutterListener{Listener: l, c: c}, nil
}

func (c *clientCutter) register(id string, conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead[id] {
		return false
	}
	c.conns[id] = append(c.conns[id], conn)
	return true
}

func (c *clientCutter) kill(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dead[id] = true
	for _, conn := range c.conns[id] {
		_ = conn.Close()
	}
	c.conns[id] = nil
}

type cutterListener struct {
	net.Listener
	c *clientCutter
}

func (l cutterListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: conn, c: l.c}, nil
}

// sniffConn reads the client id of the first request: after the 4-byte
// size, api key (2), api version (2) and correlation id (4) comes the
// client id as an int16-length string in every request header version.
type sniffConn struct {
	net.Conn
	c     *clientCutter
	head  []byte
	known bool
}

func (s *sniffConn) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	if !s.known && n > 0 {
		s.head = append(s.head, p[:n]...)
		if len(s.head) >= 14 {
			l := int(int16(binary.BigEndian.Uint16(s.head[12:14])))
			if l < 0 {
				l = 0
			}
			if len(s.head) >= 14+l {
				s.known = true
				id := string(s.head[14 : 14+l])
				s.head = nil
				if !s.c.register(id, s.Conn) {
					_ = s.Conn.Close()
					return 0, net.ErrClosed
				}
			}
		}
	}
	return n, err
}
