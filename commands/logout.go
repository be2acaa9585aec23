package commands

import (
	"context"

	"github.com/examhall/exam/domain"
)

// LogoutHandler revokes a refresh-token family. An invalid or already
// revoked token is not an error: logging out twice is harmless.
type LogoutHandler struct {
	handlerBase
	tokens TokenIssuer
}

func (h *LogoutHandler) Handle(ctx context.Context, m Meta, refreshToken string) error {
	claims, err := h.tokens.ParseRefresh(refreshToken)
	if err != nil {
		return nil
	}
	return retryOnConflict(ctx, func() error {
		s, err := h.repo.loadSession(ctx, claims.FamilyID)
		if err != nil {
			return err
		}
		if s.UserID != claims.UserID {
			return nil
		}
		m.Actor = domain.Actor{ID: claims.UserID, Role: domain.RoleSystem}
		_, err = h.w.append(ctx, m, domain.SessionStream(claims.FamilyID), s.Version, h.now(), s.Revoke("logout"))
		return err
	})
}
