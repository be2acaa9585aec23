package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
)

const actorKey = "actor"

// authenticate verifies the bearer access token and loads the user it
// names. Role and level come from the user's current record (its stream,
// not the read model, which may lag), never from the request, and a
// deactivated user is refused at once.
func (s *Server) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		Abort(c, NewAPIError(http.StatusUnauthorized, "unauthenticated", "missing bearer token"))
		return
	}
	claims, err := s.tokens.ParseAccess(strings.TrimSpace(token))
	if err != nil {
		Abort(c, NewAPIError(http.StatusUnauthorized, "unauthenticated", "invalid or expired token"))
		return
	}
	u, err := s.currentUser(c.Request.Context(), claims.UserID)
	if err != nil {
		Abort(c, err)
		return
	}
	if u == nil || !u.Active {
		Abort(c, NewAPIError(http.StatusUnauthorized, "unauthenticated", "invalid or expired token"))
		return
	}
	c.Set(actorKey, u.Actor())
	c.Set("user_id", u.ID)
	c.Next()
}

// currentUser folds the user from its own stream (cached, reading only
// newer events), so a deactivation or a change of level applies to the very
// next request, whatever the lag of the read models. nil: no such user.
func (s *Server) currentUser(ctx context.Context, id string) (*domain.User, error) {
	u, err := s.cmd.Repo.LoadUser(ctx, id)
	if err != nil {
		return nil, err
	}
	if !u.Exists() {
		return nil, nil
	}
	return u, nil
}

// lookupUser reads the user directory, falling back to the user's stream
// when the directory has not caught up (a user who was just created).
func (s *Server) lookupUser(ctx context.Context, id string) (*domain.User, error) {
	u, ok, err := s.reads.User(ctx, id)
	if err == nil && ok {
		return u, nil
	}
	u, lerr := s.cmd.Repo.LoadUser(ctx, id)
	if lerr != nil {
		return nil, errors.Join(err, lerr)
	}
	if !u.Exists() {
		return nil, nil
	}
	return u, nil
}

func actorFrom(c *gin.Context) domain.Actor {
	a, _ := c.Get(actorKey)
	actor, _ := a.(domain.Actor)
	return actor
}

// meta is the command context of a request.
func (s *Server) meta(c *gin.Context) (commands.Meta, error) {
	m := commands.Meta{Actor: actorFrom(c), RequestID: RequestIDFrom(c), IdempotencyKey: c.GetHeader("Idempotency-Key")}
	if im := c.GetHeader("If-Match"); im != "" && im != "*" {
		v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(im, "W/"), `"`), 10, 64)
		if err != nil {
			return m, NewAPIError(http.StatusPreconditionFailed, "precondition_failed", "If-Match must be a quoted exam version")
		}
		m.IfMatch = &v
	}
	return m, nil
}

// requireRole refuses actors without one of the roles.
func requireRole(c *gin.Context, roles ...domain.Role) bool {
	a := actorFrom(c)
	for _, r := range roles {
		if a.Role == r {
			return true
		}
	}
	Abort(c, domain.ErrForbidden)
	return false
}

// readYourWrites waits, when the client sends X-Min-Position (a position a
// command response gave it), until the read models have caught up with
// it, for at most five seconds.
func (s *Server) readYourWrites(c *gin.Context) {
	if h := c.GetHeader("X-Min-Position"); h != "" && s.watermark != nil {
		pos, err := strconv.ParseUint(h, 10, 64)
		if err != nil {
			Abort(c, validationFailed(map[string]string{"X-Min-Position": "must be a non-negative integer"}))
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
		err = s.watermark.WaitPublished(ctx, pos)
		cancel()
		if err != nil && c.Request.Context().Err() == nil {
			Abort(c, domain.ErrUnavailable)
			return
		}
	}
	c.Next()
}

// setPosition tells the client where its command landed.
func setPosition(c *gin.Context, pos uint64) {
	if pos > 0 {
		c.Header("X-Event-Position", strconv.FormatUint(pos, 10))
	}
}

// maxIdempotencyKeyLen bounds the Idempotency-Key header.
const maxIdempotencyKeyLen = 200

// idempotent replays the first response to a mutating request sent again
// with the same Idempotency-Key, and refuses the key for another request.
//
// Requests of one actor with one key run one at a time, and a response is
// recorded before the client sees it: a duplicate sent while the first is
// still running, or a retry sent the moment the first answer arrived, waits
// for the record and replays it instead of running the command again (which
// would create a second exam, level or user under fresh ids).
func (s *Server) idempotent(c *gin.Context) {
	key := c.GetHeader("Idempotency-Key")
	if key == "" || c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		c.Next()
		return
	}
	if len(key) > maxIdempotencyKeyLen {
		Abort(c, validationFailed(map[string]string{"Idempotency-Key": "must be at most 200 characters"}))
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			Abort(c, NewAPIError(http.StatusRequestEntityTooLarge, "payload_too_large", "request body too large"))
			return
		}
		Abort(c, NewAPIError(http.StatusBadRequest, "invalid_json", "could not read request body"))
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	actor := actorFrom(c)
	hash := commands.RequestHash(c.Request.Method, c.Request.URL.Path, body)
	ctx := c.Request.Context()
	unlock, err := s.idemLocks.lock(ctx, actor.ID+"\x00"+key)
	if err != nil {
		Abort(c, err)
		return
	}
	defer unlock()
	if stored, err := s.cmd.Idempotency.Lookup(ctx, actor.ID, key, hash); err != nil {
		Abort(c, err)
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
		m, _ := s.meta(c)
		if _, err := s.cmd.Idempotency.Record(ctx, m, key, hash, status, held.body.Bytes()); err != nil {
			s.log.Error("idempotency: could not record response", "request_id", RequestIDFrom(c), "err", err)
		}
	}
	held.release()
}

// keyLocks serializes requests that share a key (in this process).
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	sem  chan struct{}
	refs int
}

// lock waits for the key, or for ctx to end; unlock releases it.
func (l *keyLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*keyLock{}
	}
	kl := l.m[key]
	if kl == nil {
		kl = &keyLock{sem: make(chan struct{}, 1)}
		l.m[key] = kl
	}
	kl.refs++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if kl.refs--; kl.refs == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
	select {
	case kl.sem <- struct{}{}:
		return func() { <-kl.sem; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

func replay(c *gin.Context, stored *commands.StoredResponse) {
	c.Header("Idempotent-Replayed", "true")
	if stored.Status == http.StatusNoContent {
		c.Status(stored.Status)
	} else {
		c.Data(stored.Status, "application/json; charset=utf-8", stored.Body)
	}
	c.Abort()
}

// heldWriter holds a response back (status and body; headers go straight
// to the real writer's map) until release, so it can be recorded first.
type heldWriter struct {
	gin.ResponseWriter
	status int
	body   bytes.Buffer
	wrote  bool
}

func (w *heldWriter) WriteHeader(code int) {
	if code > 0 && !w.wrote {
		w.status = code
	}
}

func (w *heldWriter) WriteHeaderNow() { w.wrote = true }

func (w *heldWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.body.Write(b)
}

func (w *heldWriter) WriteString(s string) (int, error) {
	w.wrote = true
	return w.body.WriteString(s)
}

func (w *heldWriter) Status() int { return w.status }

func (w *heldWriter) Size() int {
	if !w.wrote {
		return -1
	}
	return w.body.Len()
}

func (w *heldWriter) Written() bool { return w.wrote }

// Flush keeps holding: nothing reaches the client before release.
func (w *heldWriter) Flush() {}

// release sends the held response.
func (w *heldWriter) release() {
	w.ResponseWriter.WriteHeader(w.status)
	if w.body.Len() > 0 {
		_, _ = w.ResponseWriter.Write(w.body.Bytes())
	} else {
		w.ResponseWriter.WriteHeaderNow()
	}
}
