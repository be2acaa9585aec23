package commands

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// ImportRosterHandler registers the users of a roster file (admins only),
// all or none.
//
// A user is three streams (its email reservation, its credentials, the user
// itself), so a roster of n users cannot be one append. What keeps it all
// or nothing:
//
//  1. The whole file is validated first (domain.PlanRoster): fields,
//     duplicates within the file, addresses already taken, levels.
//  2. Every address is then reserved (email.reserved.v1 at NoStream, as
//     RegisterUser does), before any credentials or user is written. If
//     one cannot be reserved — a concurrent registration took it between
//     validation and now — every reservation made so far is released
//     (email.released.v1, which frees the address at once) and the file is
//     refused with that row: no user was created.
//  3. Only with every address held are the credentials and users appended.
//     If an append fails here (the store is down), the users created so
//     far are deactivated and the other reservations released, as far as
//     the store allows, and the error is returned.
//
// A crash during step 3 can leave part of a roster registered (there is no
// saga log to resume from). With an Idempotency-Key the user ids and event
// ids derive from the key and the address, so sending the same request
// again completes the roster instead of duplicating it (addresses held by
// the users it would create do not count as taken); without one, the
// reservations of the missing users become orphans that any registration
// may take over after a minute (RegisterUser).
//
// Rows without a password get one generated from crypto/rand, returned once
// in the result and never logged nor stored (only its hash). So a retry
// cannot show again the passwords of users an earlier attempt created:
// those rows are left out of Generated, and their passwords must be reset.
type ImportRosterHandler struct {
	handlerBase
	hasher PasswordHasher
}

// GeneratedPassword is a password made for a row that gave none.
type GeneratedPassword struct {
	Email, Password string
}

// RosterResult is the outcome of an import (or of its dry run: Planned
// only, nothing created).
type RosterResult struct {
	Planned   []domain.RegisterInput // without passwords
	Created   []*domain.User
	Generated []GeneratedPassword
	Position  uint64
}

// Handle validates the rows and, unless dryRun, registers them.
func (h *ImportRosterHandler) Handle(ctx context.Context, m Meta, rows []domain.RosterRow, dryRun bool) (RosterResult, error) {
	if m.Actor.Role != domain.RoleAdmin {
		return RosterResult{}, domain.ErrForbidden
	}
	levels := map[string]bool{}
	taken := map[string]bool{}
	for _, r := range rows {
		if id := r.Level; id != "" {
			if _, seen := levels[id]; !seen {
				_, ok, err := h.repo.LoadLevel(ctx, id)
				if err != nil {
					return RosterResult{}, err
				}
				levels[id] = ok
			}
		}
		email := domain.NormalizeEmail(r.Email)
		if _, seen := taken[email]; !seen && email != "" {
			u, err := h.repo.LoadUserByEmail(ctx, email)
			if err != nil {
				return RosterResult{}, err
			}
			// A user this very import created (a retry with the same
			// Idempotency-Key) does not take the address.
			taken[email] = u != nil && !(m.IdempotencyKey != "" && u.ID == h.userID(m, email))
		}
	}
	plan, err := domain.PlanRoster(rows, levels, taken)
	if err != nil {
		return RosterResult{}, err
	}
	out := RosterResult{Planned: make([]domain.RegisterInput, len(plan))}
	for i, in := range plan {
		in.Password = ""
		out.Planned[i] = in
	}
	if dryRun {
		return out, nil
	}

	generated := make([]bool, len(plan))
	for i := range plan {
		if plan[i].Password == "" {
			p, err := generatePassword()
			if err != nil {
				return RosterResult{}, err
			}
			plan[i].Password, generated[i] = p, true
		}
	}
	hashes, err := h.hashAll(ctx, plan)
	if err != nil {
		return RosterResult{}, err
	}
	now := h.now()
	type pending struct {
		row                  int
		id                   string
		reserve, creds, user domain.Event
	}
	todo := make([]pending, len(plan))
	for i, in := range plan {
		id := h.userID(m, in.Email)
		reserve, creds, user, err := domain.RegisterUser(id, in, hashes[i], now)
		if err != nil {
			return RosterResult{}, err
		}
		todo[i] = pending{row: rows[i].Row, id: id, reserve: reserve, creds: creds, user: user}
	}

	// 2. Every address, or none.
	for i, p := range todo {
		err := h.reserve(ctx, m, plan[i].Email, p.reserve, now)
		if err == nil {
			continue
		}
		for j := range i {
			h.releaseOne(ctx, m, plan[j].Email, todo[j].id, now)
		}
		if errors.Is(err, domain.ErrEmailTaken) {
			return RosterResult{}, &domain.RosterError{Rows: []domain.RosterProblem{{Row: p.row, Field: "email", Reason: "is already taken"}}}
		}
		return RosterResult{}, err
	}

	// 3. Credentials and users.
	for i, p := range todo {
		creds, err := h.w.append(ctx, m, domain.CredentialsStream(p.id), eventstore.NoStream, now, []domain.Event{p.creds})
		if err != nil {
			h.undo(ctx, m, plan, i, func(j int) string { return todo[j].id }, now)
			return RosterResult{}, fmt.Errorf("roster row %d: %w", p.row, err)
		}
		// A retry finds the credentials of the first attempt: the password
		// generated now was never set, and the first one was never stored.
		if generated[i] && !creds.Duplicate {
			out.Generated = append(out.Generated, GeneratedPassword{Email: plan[i].Email, Password: plan[i].Password})
		}
		res, err := h.w.append(ctx, m, domain.UserStream(p.id), eventstore.NoStream, now, []domain.Event{p.user})
		if err != nil {
			h.undo(ctx, m, plan, i, func(j int) string { return todo[j].id }, now)
			return RosterResult{}, fmt.Errorf("roster row %d: %w", p.row, err)
		}
		u := &domain.User{}
		if res.Duplicate {
			if u, err = h.repo.LoadUser(ctx, p.id); err != nil {
				return RosterResult{}, err
			}
		} else {
			applyAll(u, res.FromVersion, []domain.Event{p.user})
		}
		out.Created = append(out.Created, u)
		out.Position = max(out.Position, res.LastPosition)
	}
	return out, nil
}

// userID names the user a row creates: random, or derived from the
// Idempotency-Key and the address, so a retry names the same users.
func (h *ImportRosterHandler) userID(m Meta, email string) string {
	return m.entityID(h.newID, "roster-user|"+domain.NormalizeEmail(email))
}

// reserve holds an address for the import (a retry of the same import
// finds its own reservation and goes on).
func (h *ImportRosterHandler) reserve(ctx context.Context, m Meta, email string, ev domain.Event, now time.Time) error {
	_, err := h.w.append(ctx, m, domain.EmailStream(email), eventstore.NoStream, now, []domain.Event{ev})
	if !errors.Is(err, domain.ErrConflict) {
		return err
	}
	held, err := h.repo.loadReservation(ctx, email)
	if err != nil {
		return err
	}
	if held.UserID == ev.Data.(*domain.EmailReserved).UserID {
		return nil // ours: a retried import (same Idempotency-Key)
	}
	return h.takeOverOrphan(ctx, m, email, ev, now)
}

// releaseOne gives up the reservation of a user not (yet) created. Best
// effort: what fails is logged and left as an orphan, which registrations
// take over after a minute.
func (h *ImportRosterHandler) releaseOne(ctx context.Context, m Meta, email, userID string, now time.Time) {
	held, err := h.repo.loadReservation(ctx, email)
	if err == nil && held.UserID == userID {
		_, err = h.w.append(ctx, m, domain.EmailStream(email), held.Version, now, []domain.Event{domain.ReleaseEmail(email, userID)})
	}
	if err != nil {
		h.log.Warn("roster import: could not release a reservation", "user_id", userID, "err", err)
	}
}

// undo compensates a failure while creating the user at index failed: users before it
// are deactivated, its own and later reservations released.
func (h *ImportRosterHandler) undo(ctx context.Context, m Meta, plan []domain.RegisterInput, failed int, id func(int) string, now time.Time) {
	for j := range plan {
		if j >= failed {
			h.releaseOne(ctx, m, plan[j].Email, id(j), now)
			continue
		}
		u, err := h.repo.LoadUser(ctx, id(j))
		if err == nil && u.Exists() && u.Active {
			_, err = h.w.append(ctx, m, domain.UserStream(u.ID), u.Version, now,
				[]domain.Event{{Type: domain.TypeUserDeactivated, Tags: []string{domain.UserTag(u.ID)}, Data: &domain.UserDeactivated{UserID: u.ID}}})
		}
		if err != nil {
			h.log.Warn("roster import: could not deactivate a user of a failed import", "user_id", id(j), "err", err)
		}
	}
}

// hashAll hashes the passwords on as many goroutines as there are CPUs
// (argon2id costs tens of milliseconds each: 500 rows one by one would
// take half a minute).
func (h *ImportRosterHandler) hashAll(ctx context.Context, plan []domain.RegisterInput) ([]string, error) {
	hashes := make([]string, len(plan))
	errs := make([]error, len(plan))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i := range plan {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			hashes[i], errs[i] = h.hasher.Hash(ctx, plan[i].Password)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("hash passwords: %w", err)
	}
	return hashes, nil
}

// passwordAlphabet leaves out look-alikes (0 O o 1 l I) so a password read
// off a printed list is typed right.
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// generatedPasswordLen gives about 93 bits (16 of 56 symbols).
const generatedPasswordLen = 16

// generatePassword draws a password from crypto/rand, without modulo bias
// (rand.Text would do, but its base32 alphabet mixes cases poorly for
// people who read passwords off paper).
func generatePassword() (string, error) {
	out := make([]byte, 0, generatedPasswordLen)
	buf := make([]byte, 32)
	limit := 256 - 256%len(passwordAlphabet)
	for len(out) < generatedPasswordLen {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < generatedPasswordLen {
				out = append(out, passwordAlphabet[int(b)%len(passwordAlphabet)])
			}
		}
	}
	return string(out), nil
}
