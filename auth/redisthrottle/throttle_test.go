package redisthrottle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/auth/redisthrottle"
	"github.com/examhall/exam/auth/throttletest"
	"github.com/examhall/exam/domain"
	"github.com/redis/go-redis/v9"
)

func redisURL() string {
	if u := os.Getenv("EXAM_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// testClient is the shared test Redis; a missing one fails the test.
func testClient(t *testing.T) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(redisURL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s does not answer (run scripts/ensure-redis.sh): %v", redisURL(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testPrefix(t *testing.T, c *redis.Client) string {
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

func newThrottle(t *testing.T, client redis.UniversalClient, prefix string, limits auth.ThrottleConfig) *redisthrottle.Throttle {
	t.Helper()
	th, err := redisthrottle.New(redisthrottle.Config{Client: client, Prefix: prefix, Limits: limits, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// TestConformance: the behaviour every LoginThrottle has (the suite the
// in-process throttle runs too).
func TestConformance(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	throttletest.Run(t, func(t *testing.T, cfg auth.ThrottleConfig) auth.LoginThrottle {
		return newThrottle(t, client, testPrefix(t, client), cfg)
	})
}

// TestReplicasShareTheCount: the same scenarios with every action going to
// one of two throttles (two API replicas) in turn.
func TestReplicasShareTheCount(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	for _, sc := range throttletest.Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			clk := throttletest.Start()
			cfg := sc.Cfg
			cfg.Now = clk.Now
			prefix := testPrefix(t, client)
			replicas := []auth.LoginThrottle{newThrottle(t, client, prefix, cfg), newThrottle(t, client, prefix, cfg)}
			throttletest.Play(t, sc.Steps, clk, func(i int) auth.LoginThrottle { return replicas[i%2] })
		})
	}
}

// TestConcurrentFailuresAllCount: failures racing on two replicas are all
// counted (the read-decide-write is one script).
func TestConcurrentFailuresAllCount(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	clk := throttletest.Start()
	prefix := testPrefix(t, client)
	cfg := auth.ThrottleConfig{MaxFailures: 100, Now: clk.Now}
	a, b := newThrottle(t, client, prefix, cfg), newThrottle(t, client, prefix, cfg)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		th := a
		if g%2 == 1 {
			th = b
		}
		wg.Go(func() {
			for range 12 {
				th.Failed(ctx, "race@example.com")
			}
		})
	}
	wg.Wait()
	if err := a.Check(ctx, "race@example.com"); err != nil {
		t.Fatalf("96 failures locked with a limit of 100: %v", err)
	}
	n, err := client.HGet(ctx, a.Key("race@example.com"), "f").Int()
	if err != nil || n != 96 {
		t.Fatalf("failures = %d (%v), want 96", n, err)
	}
	for range 4 {
		b.Failed(ctx, "race@example.com")
	}
	if err := a.Check(ctx, "race@example.com"); !errors.Is(err, domain.ErrRateLimited) {
		t.Fatalf("100 failures over two replicas: Check = %v, want locked", err)
	}
}

func TestKeyHidesTheEmail(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	th := newThrottle(t, client, "p:", auth.ThrottleConfig{})
	k := th.Key(" Alice@Example.com")
	if strings.Contains(strings.ToLower(k), "alice") || !strings.HasPrefix(k, "p:login:") || k != th.Key("alice@example.com") {
		t.Fatalf("key %q", k)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	_, err := redisthrottle.New(redisthrottle.Config{Limits: auth.ThrottleConfig{Window: -1}, BreakerCooldown: -1})
	for _, want := range []string{"Client", "negative", "BreakerCooldown"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New = %v, want a complaint about %s", err, want)
		}
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRedisDownFallsBackToTheReplica: with Redis unreachable logins are
// still throttled (by the replica's own count), fast, and it is logged
// without the account.
func TestRedisDownFallsBackToTheReplica(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	client := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1})
	defer client.Close()
	var logs syncBuffer
	clk := throttletest.Start()
	th, err := redisthrottle.New(redisthrottle.Config{Client: client, Limits: auth.ThrottleConfig{Now: clk.Now},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	begin := time.Now()
	for range 4 {
		if err := th.Check(ctx, "down@example.com"); err != nil {
			t.Fatalf("Check before the limit = %v", err)
		}
		th.Failed(ctx, "down@example.com")
	}
	th.Failed(ctx, "down@example.com")
	var rl *domain.RateLimitedError
	if err := th.Check(ctx, "down@example.com"); !errors.As(err, &rl) || rl.RetryAfter != time.Minute {
		t.Fatalf("after 5 failures with Redis down: Check = %v, want locked for 1m", err)
	}
	if err := th.Check(ctx, "other@example.com"); err != nil {
		t.Fatalf("another account is locked: %v", err)
	}
	th.Succeeded(ctx, "down@example.com")
	if err := th.Check(ctx, "down@example.com"); err != nil {
		t.Fatalf("after success: Check = %v", err)
	}
	if d := time.Since(begin); d > time.Second {
		t.Fatalf("13 throttle calls with Redis down took %v", d)
	}
	out := logs.String()
	if !strings.Contains(out, "redis unavailable") || strings.Contains(out, "down@example.com") {
		t.Fatalf("log = %q, want one warning without the account", out)
	}
	if n := strings.Count(out, "redis unavailable"); n != 1 {
		t.Fatalf("%d warnings logged, want 1 (rate-limited)", n)
	}
}

// TestOutageFailuresStillCount: failures the replica counted while Redis
// was away still lock the account after Redis is back.
func TestOutageFailuresStillCount(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	clk := throttletest.Start()
	fallback := auth.NewMemoryLoginThrottle(auth.ThrottleConfig{Now: clk.Now})
	ctx := context.Background()
	for range 5 { // counted during an outage
		fallback.Failed(ctx, "x@example.com")
	}
	th, err := redisthrottle.New(redisthrottle.Config{Client: client, Prefix: testPrefix(t, client), Limits: auth.ThrottleConfig{Now: clk.Now},
		Fallback: fallback, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := th.Check(ctx, "x@example.com"); !errors.Is(err, domain.ErrRateLimited) {
		t.Fatalf("Check = %v, want the outage's lock", err)
	}
}
