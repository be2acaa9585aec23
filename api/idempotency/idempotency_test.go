package idempotency

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
)

var errReused = errors.New("reused")

// memStore is a Store in memory.
type memStore struct {
	mu   sync.Mutex
	recs map[string]struct {
		hash string
		r    Recorded
	}
}

func (s *memStore) Lookup(_ context.Context, actor, key, hash string) (*Recorded, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[actor+"/"+key]
	if !ok {
		return nil, nil
	}
	if r.hash != hash {
		return nil, errReused
	}
	out := r.r
	return &out, nil
}

func (s *memStore) Record(_ context.Context, actor, key, hash string, status int, body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs == nil {
		s.recs = map[string]struct {
			hash string
			r    Recorded
		}{}
	}
	s.recs[actor+"/"+key] = struct {
		hash string
		r    Recorded
	}{hash, Recorded{Status: status, Body: append([]byte(nil), body...)}}
	return nil
}

// engine runs the middleware in front of a handler that counts its runs
// and echoes the length and hash of the body it read.
func engine(t *testing.T, store *memStore, memLimit int64, runs *atomic.Int64, gotBody *[]byte) *gin.Engine {
	t.Helper()
	gin.SetMode(gin.TestMode)
	mw, err := Middleware(Config{
		Store:   func(*gin.Context) Store { return store },
		ActorID: func(c *gin.Context) string { return c.GetHeader("X-Actor") },
		Fail: func(c *gin.Context, err error) {
			c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": err.Error()})
		},
		MemoryLimit: memLimit,
		TempDir:     t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.POST("/x", mw, func(c *gin.Context) {
		n := runs.Add(1)
		b, _ := io.ReadAll(c.Request.Body)
		if gotBody != nil {
			*gotBody = b
		}
		c.JSON(http.StatusCreated, gin.H{"run": n, "len": len(b)})
	})
	return r
}

func post(r http.Handler, actor, key, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
	req.Header.Set("X-Actor", actor)
	if key != "" {
		req.Header.Set(Header, key)
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	return rec
}

func TestReplayAndReuse(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	r := engine(t, &memStore{}, 0, &runs, nil)
	first := post(r, "a", "k1", `{"n":1}`)
	again := post(r, "a", "k1", `{"n":1}`)
	if first.Code != 201 || again.Code != 201 || again.Body.String() != first.Body.String() || runs.Load() != 1 {
		t.Fatalf("replay: %d %s / %d %s, runs %d", first.Code, first.Body, again.Code, again.Body, runs.Load())
	}
	if again.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatal("replayed response not marked")
	}
	if rec := post(r, "a", "k1", `{"n":2}`); rec.Code != http.StatusConflict || runs.Load() != 1 {
		t.Fatalf("same key, other body: %d, runs %d", rec.Code, runs.Load())
	}
	// Keys are per actor; no key means no record.
	post(r, "b", "k1", `{"n":2}`)
	post(r, "a", "", `{"n":1}`)
	post(r, "a", "", `{"n":1}`)
	if runs.Load() != 4 {
		t.Fatalf("runs = %d, want 4", runs.Load())
	}
	if rec := post(r, "a", strings.Repeat("k", 201), `{}`); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "too long") {
		t.Fatalf("long key: %d %s", rec.Code, rec.Body)
	}
}

// A body over the memory limit is spooled to a file: the handler still
// reads all of it, and the hash is the one RequestHash gives for the bytes.
func TestLargeBodySpooled(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	var got []byte
	store := &memStore{}
	r := engine(t, store, 1024, &runs, &got)
	body := strings.Repeat("0123456789", 50_000) // 500 kB over a 1 KiB memory limit
	if rec := post(r, "a", "big", body); rec.Code != 201 {
		t.Fatalf("status %d %s", rec.Code, rec.Body)
	}
	if !bytes.Equal(got, []byte(body)) {
		t.Fatalf("handler read %d bytes, want %d", len(got), len(body))
	}
	if _, err := store.Lookup(context.Background(), "a", "big", RequestHash(http.MethodPost, "/x", []byte(body))); err != nil {
		t.Fatalf("recorded under another hash: %v", err)
	}
	if rec := post(r, "a", "big", body); rec.Code != 201 || runs.Load() != 1 {
		t.Fatalf("large body not replayed: %d, runs %d", rec.Code, runs.Load())
	}
}

// Duplicates sent at once run the handler once.
func TestConcurrentDuplicatesRunOnce(t *testing.T) {
	t.Parallel()
	var runs atomic.Int64
	r := engine(t, &memStore{}, 0, &runs, nil)
	var wg sync.WaitGroup
	bodies := make([]string, 8)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i] = post(r, "a", "same", `{}`).Body.String()
		}()
	}
	wg.Wait()
	if runs.Load() != 1 {
		t.Fatalf("handler ran %d times", runs.Load())
	}
	for _, b := range bodies {
		if b != bodies[0] {
			t.Fatalf("different answers: %q vs %q", b, bodies[0])
		}
	}
}
