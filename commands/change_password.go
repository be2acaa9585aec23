package commands

import (
	"context"
	"fmt"

	"github.com/examhall/exam/domain"
)

// ChangePasswordHandler lets users change their own password, proving the
// current one. The check counts against the login throttle like a login
// (a stolen access token must not become an unthrottled password oracle),
// and the change ends every session of the user, this one included.
type ChangePasswordHandler struct {
	handlerBase
	hasher   PasswordHasher
	throttle LoginThrottle
}

func (h *ChangePasswordHandler) Handle(ctx context.Context, m Meta, current, next string) (uint64, error) {
	u, err := h.repo.LoadUser(ctx, m.Actor.ID)
	if err != nil {
		return 0, err
	}
	if !u.Exists() || !u.Active {
		return 0, domain.ErrUnauthenticated
	}
	if msg := domain.ValidatePassword(next); msg != "" {
		return 0, domain.NewValidationError(map[string]string{"new_password": msg})
	}
	account := u.Email
	if err := h.throttle.Check(ctx, account); err != nil {
		return 0, err
	}
	hash, _, err := h.repo.loadPasswordHash(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	ok, err := h.hasher.Verify(ctx, hash, current)
	if err != nil {
		return 0, fmt.Errorf("verify password: %w", err)
	}
	if !ok {
		h.throttle.Failed(ctx, account)
		return 0, domain.NewValidationError(map[string]string{"current_password": "is not your current password"})
	}
	h.throttle.Succeeded(ctx, account)
	return setPassword(ctx, h.handlerBase, h.hasher, m, u.ID, next, "password_changed")
}

// setPassword stores a new password, then ends every session of the user.
// In this order: a failure between the two leaves the new password with
// the old sessions for a retry to end, never ended sessions with the old
// password still valid.
func setPassword(ctx context.Context, h handlerBase, hasher PasswordHasher, m Meta, userID, password, reason string) (uint64, error) {
	hash, err := hasher.Hash(ctx, password)
	if err != nil {
		return 0, fmt.Errorf("hash password: %w", err)
	}
	_, version, err := h.repo.loadPasswordHash(ctx, userID)
	if err != nil {
		return 0, err
	}
	ev := domain.Event{Type: domain.TypePasswordSet, Tags: []string{domain.UserTag(userID)},
		Data: &domain.PasswordSet{UserID: userID, PasswordHash: hash}}
	if _, err := h.w.append(ctx, m, domain.CredentialsStream(userID), version, h.now(), []domain.Event{ev}); err != nil {
		return 0, err
	}
	return revokeSessions(ctx, h, m, userID, reason)
}
