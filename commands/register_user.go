package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// RegisterUserHandler creates a user (admins only).
type RegisterUserHandler struct {
	handlerBase
	hasher PasswordHasher
}

// UserResult is a user's state and where its last event was appended.
type UserResult struct {
	User     *domain.User
	Position uint64
}

// orphanAfter is how old an email reservation without a registered user must
// be before a new registration may take it over (a crash between the two
// appends left it behind; younger ones may still be completing).
const orphanAfter = time.Minute

func (h *RegisterUserHandler) Handle(ctx context.Context, m Meta, in domain.RegisterInput) (UserResult, error) {
	if m.Actor.Role != domain.RoleAdmin {
		return UserResult{}, domain.ErrForbidden
	}
	return h.register(ctx, m, in)
}

func (h *RegisterUserHandler) register(ctx context.Context, m Meta, in domain.RegisterInput) (UserResult, error) {
	if err := domain.ValidateRegistration(in); err != nil {
		return UserResult{}, err
	}
	if in.Role == domain.RoleStudent {
		if _, ok, err := h.repo.LoadLevel(ctx, in.LevelID); err != nil {
			return UserResult{}, err
		} else if !ok {
			return UserResult{}, domain.NewValidationError(map[string]string{"level_id": "no such level"})
		}
	}
	hash, err := h.hasher.Hash(ctx, in.Password)
	if err != nil {
		return UserResult{}, fmt.Errorf("hash password: %w", err)
	}
	id := m.entityID(h.newID, "user")
	now := h.now()
	reserve, creds, user, err := domain.RegisterUser(id, in, hash, now)
	if err != nil {
		return UserResult{}, err
	}
	// The reservation is appended first, at NoStream: of two racing
	// registrations of one address exactly one wins.
	if _, err := h.w.append(ctx, m, domain.EmailStream(in.Email), eventstore.NoStream, now, []domain.Event{reserve}); err != nil {
		if !errors.Is(err, domain.ErrConflict) {
			return UserResult{}, err
		}
		if err := h.takeOverOrphan(ctx, m, in.Email, reserve, now); err != nil {
			return UserResult{}, err
		}
	}
	if _, err := h.w.append(ctx, m, domain.CredentialsStream(id), eventstore.NoStream, now, []domain.Event{creds}); err != nil {
		return UserResult{}, err
	}
	res, err := h.w.append(ctx, m, domain.UserStream(id), eventstore.NoStream, now, []domain.Event{user})
	if err != nil {
		return UserResult{}, err
	}
	u := &domain.User{}
	if res.Duplicate {
		// A retry: answer with what the first request stored.
		if u, err = h.repo.LoadUser(ctx, id); err != nil {
			return UserResult{}, err
		}
	} else {
		applyAll(u, res.FromVersion, []domain.Event{user})
	}
	return UserResult{User: u, Position: res.LastPosition}, nil
}

// takeOverOrphan re-reserves an address whose reservation never got its
// user (the registering process died between appends); otherwise the address
// is taken.
// A released address (email.released.v1) is free at once. (A method of
// handlerBase: the roster import reserves the same way.)
func (h handlerBase) takeOverOrphan(ctx context.Context, m Meta, email string, reserve domain.Event, now time.Time) error {
	held, err := h.repo.loadReservation(ctx, email)
	if err != nil {
		return err
	}
	if !held.Released {
		holder, err := h.repo.LoadUser(ctx, held.UserID)
		if err != nil {
			return err
		}
		if holder.Exists() || now.Sub(held.ReservedAt) < orphanAfter {
			return domain.ErrEmailTaken
		}
	}
	if _, err := h.w.append(ctx, m, domain.EmailStream(email), held.Version, now, []domain.Event{reserve}); err != nil {
		if errors.Is(err, domain.ErrConflict) {
			return domain.ErrEmailTaken
		}
		return err
	}
	return nil
}
