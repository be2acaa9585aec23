package commands

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// LoginHandler checks credentials and starts a refresh-token family.
type LoginHandler struct {
	handlerBase
	hasher   PasswordHasher
	tokens   TokenIssuer
	throttle LoginThrottle
	// admission may be nil.
	admission LoginAdmission

	dummyOnce sync.Once
	dummy     string
}

// Tokens is what a login or refresh hands the client.
type Tokens struct {
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
	User             *domain.User
	// DeviceToken marks this client as one that logged in before (login
	// only; empty for a refresh).
	DeviceToken string
}

// Handle logs a user in from a client without a device token.
func (h *LoginHandler) Handle(ctx context.Context, m Meta, email, password string) (Tokens, error) {
	return h.HandleDevice(ctx, m, email, password, "")
}

// HandleDevice logs a user in. Unknown email, wrong password and a
// deactivated user are the same error, in about the same time, so accounts
// cannot be enumerated. Failures count against the account, never the
// client address (a school shares one), with one exception that keeps an
// attacker from locking a student out: a client presenting a device token
// of this account (from an earlier successful login: OWASP's device
// cookie) is counted on its own, so failures of everyone else lock
// everyone else only. The token it gets back replaces the one it sent.
func (h *LoginHandler) HandleDevice(ctx context.Context, m Meta, email, password, deviceToken string) (Tokens, error) {
	account := domain.NormalizeEmail(email)
	u, hash, err := h.lookup(ctx, account)
	if err != nil {
		return Tokens{}, err
	}
	key := account
	if deviceToken != "" && u != nil {
		if userID, deviceID, err := h.tokens.ParseDevice(deviceToken); err == nil && userID == u.ID {
			key = "device:" + deviceID + ":" + account
		}
	}
	if err := h.throttle.Check(ctx, key); err != nil {
		return Tokens{}, err
	}
	// Under load an existing account that is not locked hashes first; a
	// flood of logins for unknown emails waits behind it, boundedly.
	if h.admission != nil {
		release, err := h.admission.Admit(ctx, hash != "")
		if err != nil {
			return Tokens{}, err
		}
		defer release()
	}
	if hash == "" {
		// Spend the same work as a real check.
		_, _ = h.hasher.Verify(ctx, h.dummyHash(ctx), password)
		h.throttle.Failed(ctx, key)
		return Tokens{}, domain.ErrInvalidCredentials
	}
	ok, err := h.hasher.Verify(ctx, hash, password)
	if err != nil {
		return Tokens{}, fmt.Errorf("verify password: %w", err)
	}
	if !ok || !u.Active {
		h.throttle.Failed(ctx, key)
		return Tokens{}, domain.ErrInvalidCredentials
	}
	// Only the counter that was checked is forgiven: a student's success
	// on their own device does not reset what an attacker ran up.
	h.throttle.Succeeded(ctx, key)

	family := h.newID()
	now := h.now()
	m.Actor = u.Actor()
	if _, err := h.w.append(ctx, m, domain.SessionStream(family), eventstore.NoStream, now, []domain.Event{domain.StartSession(family, u, now)}); err != nil {
		return Tokens{}, err
	}
	t, err := issueTokens(h.tokens, u, family, 0)
	if err != nil {
		return Tokens{}, err
	}
	if t.DeviceToken, _, err = h.tokens.IssueDevice(u.ID); err != nil {
		return Tokens{}, fmt.Errorf("issue device token: %w", err)
	}
	return t, nil
}

// dummyHash is a hash of a random string with the current parameters,
// verified when the email is unknown so both paths cost the same.
func (h *LoginHandler) dummyHash(ctx context.Context) string {
	h.dummyOnce.Do(func() {
		h.dummy, _ = h.hasher.Hash(ctx, h.newID())
	})
	return h.dummy
}

func (h *LoginHandler) lookup(ctx context.Context, account string) (*domain.User, string, error) {
	u, err := h.repo.LoadUserByEmail(ctx, account)
	if err != nil || u == nil {
		return nil, "", err
	}
	hash, _, err := h.repo.loadPasswordHash(ctx, u.ID)
	return u, hash, err
}

func issueTokens(t TokenIssuer, u *domain.User, family string, generation int) (Tokens, error) {
	access, accessExp, err := t.IssueAccess(u.ID, string(u.Role), u.SessionEpoch)
	if err != nil {
		return Tokens{}, fmt.Errorf("issue access token: %w", err)
	}
	refresh, refreshExp, err := t.IssueRefresh(u.ID, family, generation)
	if err != nil {
		return Tokens{}, fmt.Errorf("issue refresh token: %w", err)
	}
	return Tokens{AccessToken: access, AccessExpiresAt: accessExp, RefreshToken: refresh, RefreshExpiresAt: refreshExp, User: u}, nil
}
