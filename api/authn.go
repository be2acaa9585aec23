package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
)

const actorKey = "actor"

// authenticate verifies the bearer access token and loads the user it
// names. Role and level come from the user's current record, never from the
// request, and a deactivated user is refused at once.
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
	u, err := s.lookupUser(c.Request.Context(), claims.UserID)
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
	if stored, err := s.cmd.Idempotency.Lookup(ctx, actor.ID, key, hash); err != nil {
		Abort(c, err)
		return
	} else if stored != nil {
		replay(c, stored)
		return
	}
	rec := &recordingWriter{ResponseWriter: c.Writer}
	c.Writer = rec
	c.Next()
	if status := rec.Status(); status >= 200 && status < 300 {
		m, _ := s.meta(c)
		if _, err := s.cmd.Idempotency.Record(ctx, m, key, hash, status, rec.body.Bytes()); err != nil {
			s.log.Error("idempotency: could not record response", "request_id", RequestIDFrom(c), "err", err)
		}
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

// recordingWriter keeps a copy of the response body.
type recordingWriter struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *recordingWriter) WriteString(s string) (int, error) {
	w.body.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}
