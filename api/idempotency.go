package api

import (
	"context"

	"github.com/examhall/exam/api/idempotency"
	"github.com/examhall/exam/commands"
	"github.com/gin-gonic/gin"
)

// idempotencyStore adapts the command side's records (kept in the event
// store, so a retry reaching another replica is recognised) to the
// middleware's port.
type idempotencyStore struct {
	h *commands.IdempotencyHandler
	m commands.Meta // of the request, for the record's metadata
}

func (s idempotencyStore) Lookup(ctx context.Context, actorID, key, hash string) (*idempotency.Recorded, error) {
	r, err := s.h.Lookup(ctx, actorID, key, hash)
	if r == nil || err != nil {
		return nil, err
	}
	return &idempotency.Recorded{Status: r.Status, Body: r.Body}, nil
}

func (s idempotencyStore) Record(ctx context.Context, actorID, key, hash string, status int, body []byte) error {
	m := s.m
	m.Actor.ID = actorID
	_, err := s.h.Record(ctx, m, key, hash, status, body)
	return err
}

func newIdempotency(s *Server) (gin.HandlerFunc, error) {
	return idempotency.Middleware(idempotency.Config{
		Store:   func(c *gin.Context) idempotency.Store { return idempotencyStore{h: s.cmd.Idempotency, m: s.meta(c)} },
		ActorID: func(c *gin.Context) string { return actorFrom(c).ID },
		Fail:    Abort,
		Logger:  s.log,
	})
}
