package commands

import (
	"context"

	"github.com/examhall/exam/domain"
)

// UpdateUserHandler patches a user (admins only), including a new password.
type UpdateUserHandler struct {
	handlerBase
	hasher PasswordHasher
}

// UpdateUserInput is a patch; Password nil keeps the current one.
type UpdateUserInput struct {
	UserID   string
	Patch    domain.UserPatch
	Password *string
}

func (h *UpdateUserHandler) Handle(ctx context.Context, m Meta, in UpdateUserInput) (UserResult, error) {
	if m.Actor.Role != domain.RoleAdmin {
		return UserResult{}, domain.ErrForbidden
	}
	if in.Password != nil {
		if msg := domain.ValidatePassword(*in.Password); msg != "" {
			return UserResult{}, domain.NewValidationError(map[string]string{"password": msg})
		}
	}
	if in.Patch.LevelID != nil && *in.Patch.LevelID != "" {
		if _, ok, err := h.repo.LoadLevel(ctx, *in.Patch.LevelID); err != nil {
			return UserResult{}, err
		} else if !ok {
			return UserResult{}, domain.NewValidationError(map[string]string{"level_id": "no such level"})
		}
	}
	var out UserResult
	err := retryOnConflict(ctx, func() error {
		u, err := h.repo.LoadUser(ctx, in.UserID)
		if err != nil {
			return err
		}
		events, err := u.Update(in.Patch)
		if err != nil {
			return err
		}
		now := h.now()
		res, err := h.w.append(ctx, m, domain.UserStream(u.ID), u.Version, now, events)
		if err != nil {
			return err
		}
		applyAll(u, res.FromVersion, events)
		out = UserResult{User: u, Position: res.LastPosition}
		return nil
	})
	if err != nil || in.Password == nil {
		return out, err
	}
	pos, err := setPassword(ctx, h.handlerBase, h.hasher, m, in.UserID, *in.Password, "password_changed")
	if err != nil {
		return out, err
	}
	if u, err := h.repo.LoadUser(ctx, in.UserID); err == nil {
		out.User = u
	}
	if pos > out.Position {
		out.Position = pos
	}
	return out, nil
}
