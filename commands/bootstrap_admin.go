package commands

import (
	"context"
	"errors"

	"github.com/examhall/exam/domain"
)

// BootstrapAdminHandler creates the first admin from configuration or the
// CLI. It is idempotent: an existing user with that email is left alone.
type BootstrapAdminHandler struct {
	handlerBase
	hasher PasswordHasher
}

// Handle returns created=false when a user with the email already exists.
func (h *BootstrapAdminHandler) Handle(ctx context.Context, email, password, fullName string) (created bool, err error) {
	held, err := h.repo.loadReservation(ctx, email)
	if err != nil {
		return false, err
	}
	if held.UserID != "" {
		if u, err := h.repo.LoadUser(ctx, held.UserID); err != nil || u.Exists() {
			return false, err
		}
	}
	if fullName == "" {
		fullName = "Administrator"
	}
	reg := &RegisterUserHandler{handlerBase: h.handlerBase, hasher: h.hasher}
	m := Meta{Actor: domain.SystemActor("bootstrap")}
	_, err = reg.register(ctx, m, domain.RegisterInput{Email: email, Password: password, FullName: fullName, Role: domain.RoleAdmin})
	if errors.Is(err, domain.ErrEmailTaken) {
		return false, nil
	}
	return err == nil, err
}
