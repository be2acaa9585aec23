// Package idempotency is the HTTP middleware that makes a mutating request
// safe to retry: the first response to an Idempotency-Key is recorded (in a
// Store the caller provides, the event store in the platform) before the
// client sees it, a retry with the same key and the same request gets that
// response again, and the key used for another request is refused.
//
// Requests of one actor with one key run one at a time in a process, so a
// duplicate sent while the first is still running waits for the record
// instead of running the command a second time. The request body is hashed
// while it is read and kept in memory only up to Config.MemoryLimit; larger
// bodies (uploads) are spooled to a temporary file, so an upload is never
// held in memory twice.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// Errors handed to Config.Fail; the caller maps them to responses.
var (
	// ErrKeyTooLong: the key is longer than Config.MaxKeyLen.
	ErrKeyTooLong = errors.New("idempotency: key too long")
	// ErrUnreadableBody: the body could not be read (other than a
	// *http.MaxBytesError, which is passed on as it is).
	ErrUnreadableBody = errors.New("idempotency: request body could not be read")
)

// Recorded is a first response.
type Recorded struct {
	Status int
	Body   []byte
}

// Store keeps first responses. Lookup returns nil when the key is new, or
// an error the caller maps (e.g. "key reused for another request") when the
// key was used with another request hash.
type Store interface {
	Lookup(ctx context.Context, actorID, key, requestHash string) (*Recorded, error)
	Record(ctx context.Context, actorID, key, requestHash string, status int, body []byte) error
}

// Config configures the middleware.
type Config struct {
	// Store returns the store for one request (so it can record who sent
	// it, for the audit trail).
	Store func(c *gin.Context) Store
	// ActorID names who sends the request (keys are per actor).
	ActorID func(c *gin.Context) string
	// Fail writes the error response for err and aborts the chain.
	Fail func(c *gin.Context, err error)
	// Logger reports records that could not be stored (default slog.Default).
	Logger *slog.Logger
	// MaxKeyLen bounds the key (default 200).
	MaxKeyLen int
	// MemoryLimit is how much of a body is held in memory (default 1 MiB);
	// the rest of a larger body goes to a temporary file.
	MemoryLimit int64
	// TempDir is where large bodies are spooled ("" is os.TempDir).
	TempDir string
}

// Validate reports every missing dependency.
func (c *Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("idempotency: Store is required"))
	}
	if c.ActorID == nil {
		errs = append(errs, errors.New("idempotency: ActorID is required"))
	}
	if c.Fail == nil {
		errs = append(errs, errors.New("idempotency: Fail is required"))
	}
	return errors.Join(errs...)
}

// Middleware returns the gin middleware; GET and HEAD requests and requests
// without the header pass through.
func Middleware(cfg Config) (gin.HandlerFunc, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxKeyLen <= 0 {
		cfg.MaxKeyLen = 200
	}
	if cfg.MemoryLimit <= 0 {
		cfg.MemoryLimit = 1 << 20
	}
	m := &middleware{cfg: cfg}
	return m.handle, nil
}

type middleware struct {
	cfg   Config
	locks keyLocks
}

func (m *middleware) handle(c *gin.Context) {
	key := c.GetHeader(Header)
	if key == "" || c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		c.Next()
		return
	}
	if len(key) > m.cfg.MaxKeyLen {
		m.cfg.Fail(c, ErrKeyTooLong)
		return
	}
	body, hash, err := m.spool(c.Request)
	if err != nil {
		m.cfg.Fail(c, err)
		return
	}
	defer body.Close()
	c.Request.Body = body
	actor := m.cfg.ActorID(c)
	store := m.cfg.Store(c)
	ctx := c.Request.Context()
	unlock, err := m.locks.lock(ctx, actor+"\x00"+key)
	if err != nil {
		m.cfg.Fail(c, err)
		return
	}
	defer unlock()
	if stored, err := store.Lookup(ctx, actor, key, hash); err != nil {
		m.cfg.Fail(c, err)
		return
	} else if stored != nil {
		replay(c, stored)
		return
	}
	orig := c.Writer
	held := &heldWriter{ResponseWriter: orig, status: http.StatusOK}
	c.Writer = held
	defer func() {
		// On a panic, Recovery must answer through the real writer.
		if c.Writer == held {
			c.Writer = orig
		}
	}()
	c.Next()
	c.Writer = orig
	if status := held.status; status >= 200 && status < 300 {
		if err := store.Record(ctx, actor, key, hash, status, held.body.Bytes()); err != nil {
			m.cfg.Logger.Error("idempotency: could not record response", "request_id", c.GetString("request_id"), "err", err)
		}
	}
	held.release()
}

// RequestHash fingerprints a request: method, path and body. Stored
// records compare it, so its format is fixed.
func RequestHash(method, path string, body []byte) string {
	h := newRequestHash(method, path)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func newRequestHash(method, path string) hash.Hash {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\x00", method, path)
	return h
}

// spool reads the body once, hashing it, into memory up to MemoryLimit and
// into a temporary file beyond; the returned reader replays it.
func (m *middleware) spool(r *http.Request) (io.ReadCloser, string, error) {
	h := newRequestHash(r.Method, r.URL.Path)
	if r.Body == nil || r.Body == http.NoBody {
		return http.NoBody, hex.EncodeToString(h.Sum(nil)), nil
	}
	var mem bytes.Buffer
	n, err := io.Copy(io.MultiWriter(&mem, h), io.LimitReader(r.Body, m.cfg.MemoryLimit+1))
	if err != nil {
		return nil, "", readError(err)
	}
	if n <= m.cfg.MemoryLimit {
		return io.NopCloser(&mem), hex.EncodeToString(h.Sum(nil)), nil
	}
	f, err := os.CreateTemp(m.cfg.TempDir, "idempotent-body-*")
	if err != nil {
		return nil, "", fmt.Errorf("idempotency: spool body: %w", err)
	}
	// Unlinked at once: the open descriptor is all that is needed, and
	// nothing is left behind if the process dies.
	_ = os.Remove(f.Name())
	if _, err := f.Write(mem.Bytes()); err != nil {
		_ = f.Close()
		return nil, "", fmt.Errorf("idempotency: spool body: %w", err)
	}
	if _, err := io.Copy(io.MultiWriter(f, h), r.Body); err != nil {
		_ = f.Close()
		return nil, "", readError(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, "", fmt.Errorf("idempotency: spool body: %w", err)
	}
	return f, hex.EncodeToString(h.Sum(nil)), nil
}

func readError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnreadableBody, err)
}

func replay(c *gin.Context, stored *Recorded) {
	c.Header("Idempotent-Replayed", "true")
	if stored.Status == http.StatusNoContent {
		c.Status(stored.Status)
	} else {
		c.Data(stored.Status, "application/json; charset=utf-8", stored.Body)
	}
	c.Abort()
}
