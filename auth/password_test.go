package auth

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPasswordHashAndVerify(t *testing.T) {
	t.Parallel()
	h := NewPasswordHasher(TestArgon2Params(), 2)
	ctx := context.Background()

	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("unexpected encoding %q", enc)
	}
	enc2, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if enc == enc2 {
		t.Fatal("two hashes of the same password must differ (random salt)")
	}

	tests := []struct {
		name     string
		password string
		want     bool
	}{
		{"right password", "correct horse", true},
		{"wrong password", "correct horsE", false},
		{"empty password", "", false},
		{"prefix", "correct", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Verify(ctx, enc, tt.password)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.want {
				t.Fatalf("Verify = %v, want %v", ok, tt.want)
			}
		})
	}
}

func TestDefaultParamsEncoding(t *testing.T) {
	t.Parallel()
	h := NewPasswordHasher(Argon2Params{}, 1)
	if h.Params() != DefaultArgon2Params() {
		t.Fatalf("zero params should default to OWASP minimum, got %+v", h.Params())
	}
	enc, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected encoding %q", enc)
	}
}

// Parameters come from the encoded hash, so a hasher with new parameters still
// verifies old hashes and reports that they need rehashing.
func TestVerifyUsesEncodedParams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := NewPasswordHasher(TestArgon2Params(), 1)
	enc, err := old.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	p := TestArgon2Params()
	p.Memory, p.Iterations = 128, 2
	cur := NewPasswordHasher(p, 1)
	ok, err := cur.Verify(ctx, enc, "pw")
	if err != nil || !ok {
		t.Fatalf("Verify = %v, %v; want true", ok, err)
	}
	if !cur.NeedsRehash(enc) {
		t.Fatal("NeedsRehash should be true for old parameters")
	}
	if old.NeedsRehash(enc) {
		t.Fatal("NeedsRehash should be false for current parameters")
	}
}

func TestVerifyKnownVectors(t *testing.T) {
	t.Parallel()
	// Vectors computed with the argon2 reference implementation (as used in
	// the test suites of other implementations): password "password", salt
	// "somesalt", 32-byte key.
	vectors := []string{
		"$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
		"$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc",
	}
	h := NewPasswordHasher(TestArgon2Params(), 1)
	for _, enc := range vectors {
		ok, err := h.Verify(context.Background(), enc, "password")
		if err != nil || !ok {
			t.Fatalf("Verify(%q, password) = %v, %v; want true", enc, ok, err)
		}
		if ok, _ := h.Verify(context.Background(), enc, "passwore"); ok {
			t.Fatalf("Verify(%q, passwore) = true", enc)
		}
	}
}

func TestVerifyMalformedHash(t *testing.T) {
	t.Parallel()
	h := NewPasswordHasher(TestArgon2Params(), 1)
	valid, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, "$")
	salt, key := parts[4], parts[5]
	tests := map[string]string{
		"empty":             "",
		"bcrypt":            "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
		"argon2i":           "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"old version":       "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"missing param":     "$argon2id$v=19$m=64,t=1$" + salt + "$" + key,
		"duplicate param":   "$argon2id$v=19$m=64,m=64,p=1$" + salt + "$" + key,
		"zero iterations":   "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"zero parallelism":  "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"huge memory":       "$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key,
		"tiny memory":       "$argon2id$v=19$m=1,t=1,p=1$" + salt + "$" + key,
		"bad salt base64":   "$argon2id$v=19$m=64,t=1,p=1$!!!$" + key,
		"short key":         "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA",
		"padded key":        "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "=",
		"extra segment":     valid + "$x",
		"negative memory":   "$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key,
		"parallelism > 255": "$argon2id$v=19$m=8192,t=1,p=256$" + salt + "$" + key,
	}
	for name, enc := range tests {
		t.Run(name, func(t *testing.T) {
			ok, err := h.Verify(context.Background(), enc, "pw")
			if ok || !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("Verify(%q) = %v, %v; want false, ErrInvalidHash", enc, ok, err)
			}
			if !h.NeedsRehash(enc) {
				t.Fatal("malformed hash should need rehash")
			}
		})
	}
}

func TestDummyVerifyNeverMatches(t *testing.T) {
	t.Parallel()
	h := NewPasswordHasher(TestArgon2Params(), 1)
	for _, pw := range []string{"", "password", strings.Repeat("x", 100)} {
		if err := h.DummyVerify(context.Background(), pw); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := h.dummy.String()[:len("$argon2id$v=19$m=64,t=1,p=1$")], "$argon2id$v=19$m=64,t=1,p=1$"; got != want {
		t.Fatalf("dummy hash uses %q, want current params %q", got, want)
	}
}

// The semaphore bounds concurrent derivations and waiting respects ctx.
func TestHasherConcurrencyBound(t *testing.T) {
	t.Parallel()
	h := NewPasswordHasher(TestArgon2Params(), 2)

	// Occupy both slots; a further call must wait and then honour its ctx.
	h.sem <- struct{}{}
	h.sem <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Hash with full semaphore = %v, want DeadlineExceeded", err)
	}
	if _, err := h.Verify(ctx, h.dummy.String(), "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Verify with full semaphore = %v, want DeadlineExceeded", err)
	}
	if err := h.DummyVerify(ctx, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DummyVerify with full semaphore = %v, want DeadlineExceeded", err)
	}
	<-h.sem
	<-h.sem

	// Under load, never more than 2 slots are taken.
	var wg sync.WaitGroup
	var maxSeen atomic.Int64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				if n := int64(len(h.sem)); n > maxSeen.Load() {
					maxSeen.Store(n)
				}
				runtime.Gosched()
			}
		}
	}()
	for range 8 {
		wg.Go(func() {
			if _, err := h.Hash(context.Background(), "pw"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(stop)
	if maxSeen.Load() > 2 {
		t.Fatalf("saw %d concurrent derivations, limit 2", maxSeen.Load())
	}
}

func TestHashCancelledContext(t *testing.T) {
	t.Parallel()
	h := NewPasswordHasher(TestArgon2Params(), 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash = %v, want Canceled", err)
	}
}

func TestParamsClamped(t *testing.T) {
	t.Parallel()
	h := NewPasswordHasher(Argon2Params{Memory: 1, Iterations: 1, Parallelism: 4, SaltLength: 1, KeyLength: 1}, 0)
	p := h.Params()
	if p.Memory < 32 || p.SaltLength < minArgon2SaltLength || p.KeyLength < minArgon2KeyLength {
		t.Fatalf("params not clamped: %+v", p)
	}
	if cap(h.sem) < 1 {
		t.Fatal("maxConcurrent <= 0 must still allow work")
	}
	enc, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := h.Verify(context.Background(), enc, "pw"); !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
}
