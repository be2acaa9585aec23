package redisguard_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/examhall/exam/internal/redisguard"
)

func TestGuardSkipsRedisForTheCooldownAndLimitsWarnings(t *testing.T) {
	now := time.Unix(1000, 0)
	var logs bytes.Buffer
	g := redisguard.New(time.Second, time.Minute, func() time.Time { return now }, slog.New(slog.NewTextHandler(&logs, nil)), "redis down")
	if !g.Usable() {
		t.Fatal("a fresh guard must let requests through")
	}
	g.Failed(context.Background(), "get", errors.New("boom"))
	if g.Usable() {
		t.Fatal("right after an error Redis must be skipped")
	}
	now = now.Add(1100 * time.Millisecond)
	if !g.Usable() {
		t.Fatal("after the cooldown Redis must be tried again")
	}
	g.Failed(context.Background(), "set", errors.New("boom again"))
	if n := strings.Count(logs.String(), "redis down"); n != 1 {
		t.Fatalf("%d warnings within one LogEvery, want 1:\n%s", n, logs.String())
	}
	now = now.Add(2 * time.Minute)
	g.Failed(context.Background(), "get", errors.New("later"))
	if !strings.Contains(logs.String(), "suppressed_since_last_warning=1") {
		t.Fatalf("the next warning must count the suppressed one:\n%s", logs.String())
	}
}

func TestCancelledCallerOpensNothing(t *testing.T) {
	g := redisguard.New(time.Hour, time.Minute, nil, nil, "x")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g.Failed(ctx, "get", context.Canceled)
	if !g.Usable() {
		t.Fatal("a cancelled caller must not open the breaker")
	}
}
