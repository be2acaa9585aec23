package commands

import (
	"context"
	"errors"

	"github.com/examhall/exam/domain"
)

// RefreshHandler rotates a refresh token. Presenting an already-rotated
// token revokes its whole family (it was stolen or replayed).
type RefreshHandler struct {
	handlerBase
	tokens TokenIssuer
}

func (h *RefreshHandler) Handle(ctx context.Context, m Meta, refreshToken string) (Tokens, error) {
	claims, err := h.tokens.ParseRefresh(refreshToken)
	if err != nil {
		return Tokens{}, domain.ErrUnauthenticated
	}
	u, err := h.repo.LoadUser(ctx, claims.UserID)
	if err != nil {
		return Tokens{}, err
	}
	if !u.Exists() {
		return Tokens{}, domain.ErrUnauthenticated
	}
	m.Actor = u.Actor()
	// A family started before the user's sessions were ended (password
	// change, sign out everywhere, deactivation) is over, on every replica:
	// the user's stream says so, whatever the family's own stream holds.
	if s, err := h.repo.loadSession(ctx, claims.FamilyID); err != nil {
		return Tokens{}, err
	} else if s.FamilyID != "" && !u.SessionValid(s.Epoch) {
		return Tokens{}, domain.ErrUnauthenticated
	}
	var generation int
	var sessionEpoch int64
	err = retryOnConflict(ctx, func() error {
		s, err := h.repo.loadSession(ctx, claims.FamilyID)
		if err != nil {
			return err
		}
		sessionEpoch = s.Epoch
		events, decideErr := s.Rotate(claims.UserID, claims.Generation)
		if _, err := h.w.append(ctx, m, domain.SessionStream(claims.FamilyID), s.Version, h.now(), events); err != nil {
			// Two refreshes raced with one token: the loser sees the new
			// generation on reload and revokes the family, as for reuse.
			return err
		}
		if decideErr != nil {
			return decideErr
		}
		generation = claims.Generation + 1
		return nil
	})
	if err != nil {
		if errors.Is(err, domain.ErrUnauthenticated) {
			return Tokens{}, domain.ErrUnauthenticated
		}
		return Tokens{}, err
	}
	if !u.SessionValid(sessionEpoch) {
		return Tokens{}, domain.ErrUnauthenticated
	}
	return issueTokens(h.tokens, u, claims.FamilyID, generation)
}
