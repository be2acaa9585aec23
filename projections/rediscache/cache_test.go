package rediscache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/projections"
	"github.com/examhall/exam/projections/cachetest"
	"github.com/examhall/exam/projections/rediscache"
	"github.com/redis/go-redis/v9"
)

// redisURL is the shared test Redis; a missing one fails the tests.
func redisURL() string {
	if u := os.Getenv("EXAM_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

func testClient(t testing.TB) *redis.Client {
	t.Helper()
	c, err := rediscache.NewClient(redisURL())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s does not answer (run scripts/ensure-redis.sh): %v", redisURL(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testPrefix is a fresh key prefix whose keys are deleted after the test.
func testPrefix(t testing.TB, c redis.UniversalClient) string {
	t.Helper()
	p := fmt.Sprintf("test:%x:", rand.Uint64())
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return p
}

// countingSource counts the read side's loads, so a test can tell a hit
// (no load) from a miss.
type countingSource struct {
	rediscache.ExamSource
	exams atomic.Int64
}

func (s *countingSource) Exam(ctx context.Context, id string) (*domain.Exam, bool, error) {
	s.exams.Add(1)
	return s.ExamSource.Exam(ctx, id)
}

func newCache(t testing.TB, client redis.UniversalClient, prefix string, src rediscache.ExamSource, fallback projections.ExamLoader) *rediscache.Cache {
	t.Helper()
	c, err := rediscache.New(rediscache.Config{Client: client, Prefix: prefix, Source: src, Fallback: fallback,
		Render: cachetest.Render, TTL: time.Minute, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConformance(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	t.Run("read-through", func(t *testing.T) {
		t.Parallel()
		cachetest.Run(t, cachetest.Harness{New: func(t *testing.T, w *cachetest.World) cachetest.Cache {
			return newCache(t, client, testPrefix(t, client), w, w)
		}})
	})
	t.Run("with the warmer", func(t *testing.T) {
		t.Parallel()
		cachetest.Run(t, cachetest.Harness{New: func(t *testing.T, w *cachetest.World) cachetest.Cache {
			c := newCache(t, client, testPrefix(t, client), w, w)
			warmer := c.Warmer()
			w.Subscribe(func(rec eventstore.Record) {
				if err := warmer.Apply(context.Background(), []projections.Delivered{{Record: rec, From: projections.NoDelivery}}); err != nil {
					t.Errorf("warmer: %v", err)
				}
			})
			return c
		}})
	})
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	_, err := rediscache.New(rediscache.Config{TTL: -1})
	for _, want := range []string{"Client", "Source", "Fallback", "Render", "TTL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(empty) = %v, want a complaint about %s", err, want)
		}
	}
}

func TestHitDoesNotLoad(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	w := cachetest.NewWorld()
	src := &countingSource{ExamSource: w}
	c := newCache(t, client, testPrefix(t, client), src, w)
	w.Draft("e1", "L1")
	v := w.Publish("e1")
	for i := range 5 {
		doc, found, err := c.Get(context.Background(), "e1")
		if err != nil || !found || doc.Version != v {
			t.Fatalf("read %d: %v %v %d", i, err, found, doc.Version)
		}
	}
	if n := src.exams.Load(); n != 1 {
		t.Fatalf("read side loaded %d times for 5 reads, want 1", n)
	}
}

// fixedSource is a read side frozen by the test.
type fixedSource struct {
	head int64
	exam *domain.Exam
}

func (s fixedSource) ExamHead(context.Context, string) (int64, bool, error) { return s.head, true, nil }
func (s fixedSource) Exam(context.Context, string) (*domain.Exam, bool, error) {
	cp := *s.exam
	return &cp, true, nil
}

type noLoader struct{}

func (noLoader) LoadExam(context.Context, string) (*domain.Exam, error) {
	return nil, errors.New("the store must not be asked")
}

func exam(version int64, title string, status domain.ExamStatus) *domain.Exam {
	return &domain.Exam{ID: "e1", Title: title, LevelID: "L1", Status: status, Version: version,
		Questions: []domain.Question{{ID: "q1", Text: "?", Kind: domain.KindSingle, Choices: []domain.Choice{{Key: "a"}, {Key: "b"}}, Correct: []string{"a"}, Points: 1}}}
}

// storeLoader is the event store's view of the exam.
type storeLoader struct{ exam *domain.Exam }

func (l storeLoader) LoadExam(context.Context, string) (*domain.Exam, error) {
	cp := *l.exam
	return &cp, nil
}

// A read model that has the exam only as a draft lags behind the store,
// which says it is open: students must see it (the event store decides),
// not get "not found" until a projector catches up.
func TestDraftInALaggingReadModelFallsBackToTheStore(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	c := newCache(t, client, testPrefix(t, client), fixedSource{head: 1, exam: exam(1, "draft", domain.StatusDraft)},
		storeLoader{exam(2, "open", domain.StatusOpen)})
	doc, found, err := c.Get(context.Background(), "e1")
	if err != nil || !found || doc.Status != domain.StatusOpen || doc.Version != 2 {
		t.Fatalf("Get with the read model at the draft: found %v, status %s, version %d, err %v", found, doc.Status, doc.Version, err)
	}
}

// TestVersioning: the version comes from the read side's head, and a
// document of another version is never served or written for it.
func TestVersioning(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	ctx := context.Background()

	t.Run("a document of version 3 is not served when the head says 4", func(t *testing.T) {
		t.Parallel()
		prefix := testPrefix(t, client)
		v3 := newCache(t, client, prefix, fixedSource{head: 3, exam: exam(3, "three", domain.StatusOpen)}, noLoader{})
		if doc, _, err := v3.Get(ctx, "e1"); err != nil || doc.Version != 3 {
			t.Fatalf("Get at 3: %v %d", err, doc.Version)
		}
		if n, _ := client.Exists(ctx, v3.Key("e1", 3)).Result(); n != 1 {
			t.Fatal("version 3 was not stored under its key")
		}
		v4 := newCache(t, client, prefix, fixedSource{head: 4, exam: exam(4, "four", domain.StatusClosed)}, noLoader{})
		for i := range 3 {
			doc, found, err := v4.Get(ctx, "e1")
			if err != nil || !found || doc.Version != 4 || doc.Status != domain.StatusClosed || !bytes.Contains(doc.Body, []byte(`"four"`)) {
				t.Fatalf("read %d at head 4: err=%v version %d status %s body %s", i, err, doc.Version, doc.Status, doc.Body)
			}
		}
	})

	t.Run("a document whose header names another version is ignored", func(t *testing.T) {
		t.Parallel()
		prefix := testPrefix(t, client)
		c3 := newCache(t, client, prefix, fixedSource{head: 3, exam: exam(3, "three", domain.StatusOpen)}, noLoader{})
		if _, _, err := c3.Get(ctx, "e1"); err != nil {
			t.Fatal(err)
		}
		// Copy version 3's value under version 4's key, as a buggy writer
		// would.
		val, err := client.Get(ctx, c3.Key("e1", 3)).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if err := client.Set(ctx, c3.Key("e1", 4), val, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		c4 := newCache(t, client, prefix, fixedSource{head: 4, exam: exam(4, "four", domain.StatusOpen)}, noLoader{})
		doc, _, err := c4.Get(ctx, "e1")
		if err != nil || doc.Version != 4 || !bytes.Contains(doc.Body, []byte(`"four"`)) {
			t.Fatalf("got version %d body %s err %v, want version 4", doc.Version, doc.Body, err)
		}
		// And the bad value was overwritten by the real version 4.
		val, _ = client.Get(ctx, c3.Key("e1", 4)).Bytes()
		if !bytes.Contains(val, []byte(`"four"`)) || !bytes.HasPrefix(val, []byte("sdoc1 4 ")) {
			t.Fatalf("key of version 4 holds %q", val)
		}
	})

	t.Run("an exam newer than the head is stored under its own version", func(t *testing.T) {
		t.Parallel()
		prefix := testPrefix(t, client)
		// The read model moved between ExamHead and Exam.
		c := newCache(t, client, prefix, fixedSource{head: 4, exam: exam(5, "five", domain.StatusOpen)}, noLoader{})
		doc, _, err := c.Get(ctx, "e1")
		if err != nil || doc.Version != 5 {
			t.Fatalf("got version %d err %v, want 5 (newer is fine to serve)", doc.Version, err)
		}
		if n, _ := client.Exists(ctx, c.Key("e1", 4)).Result(); n != 0 {
			t.Fatal("version 5's document was stored under version 4's key")
		}
		if n, _ := client.Exists(ctx, c.Key("e1", 5)).Result(); n != 1 {
			t.Fatal("version 5's document was not stored under its key")
		}
	})

	t.Run("documents expire", func(t *testing.T) {
		t.Parallel()
		prefix := testPrefix(t, client)
		c := newCache(t, client, prefix, fixedSource{head: 2, exam: exam(2, "two", domain.StatusOpen)}, noLoader{})
		if _, _, err := c.Get(ctx, "e1"); err != nil {
			t.Fatal(err)
		}
		ttl, err := client.PTTL(ctx, c.Key("e1", 2)).Result()
		if err != nil || ttl <= 0 || ttl > time.Minute {
			t.Fatalf("TTL = %v (%v), want within (0, 1m]", ttl, err)
		}
	})
}

func TestWarmer(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	ctx := context.Background()
	w := cachetest.NewWorld()
	src := &countingSource{ExamSource: w}
	c := newCache(t, client, testPrefix(t, client), src, w)
	warmer := c.Warmer()
	if warmer.Name() != "student-cache" || len(warmer.Categories()) != 1 || warmer.Categories()[0] != domain.CategoryExam {
		t.Fatalf("warmer is %q over %v", warmer.Name(), warmer.Categories())
	}
	var recs []eventstore.Record
	w.Subscribe(func(rec eventstore.Record) { recs = append(recs, rec) })
	apply := func(rec eventstore.Record) error {
		return warmer.Apply(ctx, []projections.Delivered{{Record: rec, From: projections.Delivery{Topic: "exam", Partition: 0, Offset: int64(rec.Version)}}})
	}

	w.Draft("e1", "L1")
	if err := apply(recs[0]); err != nil {
		t.Fatal(err)
	}
	if n, _ := client.Exists(ctx, c.Key("e1", 1)).Result(); n != 0 {
		t.Fatal("a draft was warmed")
	}
	v := w.Publish("e1")
	for range 2 { // idempotent: a redelivery changes nothing
		if err := apply(recs[1]); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := client.Exists(ctx, c.Key("e1", v)).Result(); n != 1 {
		t.Fatal("the published version was not warmed")
	}
	doc, found, err := c.Get(ctx, "e1")
	if err != nil || !found || doc.Version != v {
		t.Fatalf("Get: %v %v %d", err, found, doc.Version)
	}
	if n := src.exams.Load(); n != 0 {
		t.Fatalf("read side loaded %d times after warming, want 0", n)
	}
	// An old record warms the store's current version (the store is
	// always at least at the record).
	w.Close("e1")
	if err := apply(recs[0]); err != nil {
		t.Fatal(err)
	}
	if n, _ := client.Exists(ctx, c.Key("e1", 3)).Result(); n != 1 {
		t.Fatal("the current version was not warmed by an old record")
	}
	// A record ahead of the store is retried, not warmed as a stale version.
	ahead := recs[2]
	ahead.Version = 9
	if err := apply(ahead); err == nil {
		t.Fatal("a record ahead of the store was accepted")
	}
	// Other categories are ignored.
	if err := apply(eventstore.Record{StreamID: "attempt-x", Version: 1}); err != nil {
		t.Fatal(err)
	}
}

// redisServer is a redis-server child process on a port of its own.
type redisServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server (is it installed? scripts/ensure-redis.sh): %v", err)
	}
	cmd := s.cmd
	s.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c := redis.NewClient(&redis.Options{Addr: s.addr()})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %d does not answer", s.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) kill() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

func (s *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// TestRedisDown: a dead Redis costs nothing but the cache: reads are
// answered from the read side, fast, and Redis is used again when it
// comes back.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	srv := &redisServer{t: t, port: freePort(t)}
	srv.start()
	client, err := rediscache.NewClient("redis://" + srv.addr() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	w := cachetest.NewWorld()
	src := &countingSource{ExamSource: w}
	c := newCache(t, client, "down:", src, w)
	ctx := context.Background()
	w.Draft("e1", "L1")
	v := w.Publish("e1")
	if _, found, err := c.Get(ctx, "e1"); err != nil || !found {
		t.Fatalf("warm-up Get: %v %v", err, found)
	}

	srv.kill()
	start := time.Now()
	const reads = 50
	for i := range reads {
		doc, found, err := c.Get(ctx, "e1")
		if err != nil || !found || doc.Version != v {
			t.Fatalf("read %d with Redis down: err=%v found=%v version %d", i, err, found, doc.Version)
		}
	}
	elapsed := time.Since(start)
	// Without the breaker and the short timeouts each read could wait a
	// dial timeout (and go-redis's default retries).
	if budget := reads * rediscache.ClientDialTimeout / 10; elapsed > budget {
		t.Fatalf("%d reads with Redis down took %v, want under %v", reads, elapsed, budget)
	}
	t.Logf("%d reads with Redis down: %v", reads, elapsed)
	if n := src.exams.Load(); n < reads {
		t.Fatalf("read side loaded %d times for %d reads, want every read from it", n, reads)
	}

	srv.start() // same port, empty
	time.Sleep(rediscache.DefaultBreakerCooldown + 100*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		before := src.exams.Load()
		if _, _, err := c.Get(ctx, "e1"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Get(ctx, "e1"); err != nil {
			t.Fatal(err)
		}
		// The second read of the pair is a hit when Redis is used again.
		if src.exams.Load()-before <= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis is not used again after it came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n, _ := client.Exists(ctx, c.Key("e1", v)).Result(); n != 1 {
		t.Fatal("the document is not in the restarted Redis")
	}
}

// TestRedisHung: a Redis that accepts connections and never answers is the
// worst case (every command waits its full timeout); the breaker makes it
// cost one timeout per cooldown instead of one per read.
func TestRedisHung(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // hold it open, say nothing
		}
	}()
	client, err := rediscache.NewClient("redis://" + l.Addr().String() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	w := cachetest.NewWorld()
	c := newCache(t, client, "hung:", w, w)
	w.Draft("e1", "L1")
	v := w.Publish("e1")
	const reads = 50
	start := time.Now()
	for i := range reads {
		doc, found, err := c.Get(context.Background(), "e1")
		if err != nil || !found || doc.Version != v {
			t.Fatalf("read %d: err=%v found=%v version %d", i, err, found, doc.Version)
		}
	}
	elapsed := time.Since(start)
	// One failed command may wait read timeout × (1 + MaxRetries); 50
	// of them would take over 12 s.
	if budget := 3 * time.Second; elapsed > budget {
		t.Fatalf("%d reads against a hung Redis took %v, want under %v", reads, elapsed, budget)
	}
	t.Logf("%d reads against a hung Redis: %v", reads, elapsed)
}

// BenchmarkRedisCachedGet is the hit path: one ExamHead (in memory here)
// and one Redis GET.
func BenchmarkRedisCachedGet(b *testing.B) {
	client := testClient(b)
	w := cachetest.NewWorld()
	c := newCache(b, client, testPrefix(b, client), w, w)
	w.Draft("e1", "L1")
	w.Publish("e1")
	ctx := context.Background()
	if _, found, err := c.Get(ctx, "e1"); err != nil || !found {
		b.Fatal(err, found)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, found, err := c.Get(ctx, "e1"); err != nil || !found {
			b.Fatal(err, found)
		}
	}
}

// BenchmarkRedisCachedGetParallel is the hit path under concurrent readers
// (the pool's throughput rather than one round trip).
func BenchmarkRedisCachedGetParallel(b *testing.B) {
	client := testClient(b)
	w := cachetest.NewWorld()
	c := newCache(b, client, testPrefix(b, client), w, w)
	w.Draft("e1", "L1")
	w.Publish("e1")
	if _, found, err := c.Get(context.Background(), "e1"); err != nil || !found {
		b.Fatal(err, found)
	}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, found, err := c.Get(context.Background(), "e1"); err != nil || !found {
				b.Error(err, found)
				return
			}
		}
	})
}
