package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// IdempotencyHandler remembers the first response to a command sent with an
// Idempotency-Key, in the event store itself, so that a retry reaching any
// replica gets the same answer. The command's own events also carry ids
// derived from the key (Meta.eventID), so even a retry that races the first
// request appends nothing new.
type IdempotencyHandler struct{ handlerBase }

// StoredResponse is a recorded first response.
type StoredResponse struct {
	Status int
	Body   []byte
}

func idempotencyKeyHash(actorID, key string) string {
	sum := sha256.Sum256([]byte(actorID + "\x00" + key))
	return hex.EncodeToString(sum[:])
}

// RequestHash fingerprints a request (method, path, body) for comparison.
func RequestHash(method, path string, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\x00", method, path)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Lookup returns the recorded response for the key, nil if there is none,
// or ErrIdempotencyKeyReused when the key was used for a different request.
func (h *IdempotencyHandler) Lookup(ctx context.Context, actorID, key, requestHash string) (*StoredResponse, error) {
	recs, err := h.w.store.Load(ctx, domain.IdempotencyStream(idempotencyKeyHash(actorID, key)), 1)
	if err != nil {
		return nil, fmt.Errorf("load idempotency record: %w", err)
	}
	if len(recs) == 0 {
		return nil, nil
	}
	var d domain.IdempotencyRecorded
	if err := json.Unmarshal(recs[0].Data, &d); err != nil {
		return nil, fmt.Errorf("decode idempotency record: %w", err)
	}
	if d.RequestHash != requestHash {
		return nil, domain.ErrIdempotencyKeyReused
	}
	return &StoredResponse{Status: d.Status, Body: d.Body}, nil
}

// Record stores the first response. When another request with the same key
// recorded first, that response is returned and should be sent instead.
func (h *IdempotencyHandler) Record(ctx context.Context, m Meta, key, requestHash string, status int, body []byte) (*StoredResponse, error) {
	keyHash := idempotencyKeyHash(m.Actor.ID, key)
	raw := json.RawMessage(body)
	if !json.Valid(body) {
		raw = json.RawMessage("null")
	}
	ev := domain.Event{Type: domain.TypeIdempotencyRecorded, Data: &domain.IdempotencyRecorded{
		KeyHash: keyHash, RequestHash: requestHash, Status: status, Body: raw}}
	m.IdempotencyKey = "" // the record itself gets a fresh id
	_, err := h.w.append(ctx, m, domain.IdempotencyStream(keyHash), eventstore.NoStream, h.now(), []domain.Event{ev})
	if errors.Is(err, domain.ErrConflict) {
		return h.Lookup(ctx, m.Actor.ID, key, requestHash)
	}
	return nil, err
}
