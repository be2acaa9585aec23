package commands_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
)

// racingStore runs hook once, just before the first append to the stream
// named race: a concurrent writer getting there between a command's
// validation and its append.
type racingStore struct {
	eventstore.Store
	race string
	once sync.Once
	hook func()
	// credentialsOK > 0: appends to credentials streams after that many
	// fail.
	credentialsOK, credentials int
}

func (s *racingStore) Append(ctx context.Context, stream string, expected int64, recs []eventstore.Record) (eventstore.AppendResult, error) {
	if stream == s.race {
		s.once.Do(s.hook)
	}
	if s.credentialsOK > 0 && strings.HasPrefix(stream, "credentials-") {
		if s.credentials++; s.credentials > s.credentialsOK {
			return eventstore.AppendResult{}, errors.New("store down")
		}
	}
	return s.Store.Append(ctx, stream, expected, recs)
}

func rosterRows(level string) []domain.RosterRow {
	return []domain.RosterRow{
		{Row: 2, Email: "first@school.test", FullName: "First", Role: "student", Level: level, IDNumber: "007"},
		{Row: 3, Email: "second@school.test", FullName: "Second", Role: "doctor", Password: "second-pass"},
		{Row: 4, Email: "third@school.test", FullName: "Third", Role: "student", Level: level},
	}
}

func TestImportRoster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := openStore(t)
	h := newHandlers(t, store)
	lvl, err := h.CreateLevel.Handle(ctx, commands.Meta{Actor: admin}, "Year 1")
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.ImportRoster.Handle(ctx, commands.Meta{Actor: admin}, rosterRows(lvl.Level.ID), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 3 || len(res.Generated) != 2 || res.Generated[0].Email != "first@school.test" || len(res.Generated[0].Password) != 16 {
		t.Fatalf("result %+v", res)
	}
	if res.Created[0].IDNumber != "007" || res.Created[0].LevelID != lvl.Level.ID || !res.Created[0].Active {
		t.Fatalf("first user %+v", res.Created[0])
	}
	for _, login := range []struct{ email, password string }{
		{"first@school.test", res.Generated[0].Password}, {"second@school.test", "second-pass"}, {"third@school.test", res.Generated[1].Password},
	} {
		if _, err := h.Login.Handle(ctx, commands.Meta{}, login.email, login.password); err != nil {
			t.Fatalf("login %s: %v", login.email, err)
		}
	}

	t.Run("students may not", func(t *testing.T) {
		_, err := h.ImportRoster.Handle(ctx, commands.Meta{Actor: domain.Actor{ID: "s", Role: domain.RoleStudent}}, rosterRows(lvl.Level.ID), false)
		if !errors.Is(err, domain.ErrForbidden) {
			t.Fatal(err)
		}
	})
	t.Run("taken addresses are listed and nothing is created", func(t *testing.T) {
		before := countType(t, store, domain.TypeUserRegistered)
		rows := rosterRows(lvl.Level.ID)
		rows = append(rows, domain.RosterRow{Row: 9, Email: "fourth@school.test", FullName: "Fourth", Role: "admin"})
		_, err := h.ImportRoster.Handle(ctx, commands.Meta{Actor: admin}, rows, false)
		var re *domain.RosterError
		if !errors.As(err, &re) || len(re.Rows) != 3 || re.Rows[0].Reason != "is already taken" {
			t.Fatalf("error %v", err)
		}
		if n := countType(t, store, domain.TypeUserRegistered); n != before {
			t.Fatalf("%d users registered by a refused roster", n-before)
		}
	})
	t.Run("a dry run creates nothing", func(t *testing.T) {
		rows := []domain.RosterRow{{Row: 2, Email: "dry@school.test", FullName: "Dry", Role: "admin"}}
		res, err := h.ImportRoster.Handle(ctx, commands.Meta{Actor: admin}, rows, true)
		if err != nil || len(res.Planned) != 1 || len(res.Created) != 0 || res.Generated != nil {
			t.Fatalf("%+v %v", res, err)
		}
		if u, err := h.Repo.LoadUserByEmail(ctx, "dry@school.test"); err != nil || u != nil {
			t.Fatalf("dry run registered %v (%v)", u, err)
		}
	})
}

// TestImportRosterLosesARace: a registration that takes an address of the
// file after the roster was validated makes the import refuse the file
// with that row and create no user, and the addresses the import had
// reserved are free again at once.
func TestImportRosterLosesARace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	inner := openStore(t)
	rival := newHandlers(t, inner)
	lvl, err := rival.CreateLevel.Handle(ctx, commands.Meta{Actor: admin}, "Year 1")
	if err != nil {
		t.Fatal(err)
	}
	store := &racingStore{Store: inner, race: domain.EmailStream("third@school.test")}
	store.hook = func() {
		if _, err := rival.RegisterUser.Handle(ctx, commands.Meta{Actor: admin}, domain.RegisterInput{
			Email: "third@school.test", Password: "rival-pass", FullName: "Rival", Role: domain.RoleAdmin}); err != nil {
			t.Errorf("rival registration: %v", err)
		}
	}
	h := newHandlers(t, store)
	_, err = h.ImportRoster.Handle(ctx, commands.Meta{Actor: admin}, rosterRows(lvl.Level.ID), false)
	var re *domain.RosterError
	if !errors.As(err, &re) || !reflect.DeepEqual(re.Rows, []domain.RosterProblem{{Row: 4, Field: "email", Reason: "is already taken"}}) {
		t.Fatalf("error %v", err)
	}
	if n := countType(t, inner, domain.TypeUserRegistered); n != 1 {
		t.Fatalf("%d users registered, want only the rival", n)
	}
	if n := countType(t, inner, domain.TypeEmailReleased); n != 2 {
		t.Fatalf("%d reservations released, want the 2 the import had made", n)
	}
	// Released addresses are free at once, for a registration and for the
	// same roster without the taken row.
	if _, err := rival.RegisterUser.Handle(ctx, commands.Meta{Actor: admin}, domain.RegisterInput{
		Email: "first@school.test", Password: "pass-first", FullName: "First", Role: domain.RoleStudent, LevelID: lvl.Level.ID}); err != nil {
		t.Fatalf("a released address: %v", err)
	}
	res, err := h.ImportRoster.Handle(ctx, commands.Meta{Actor: admin}, rosterRows(lvl.Level.ID)[1:2], false)
	if err != nil || len(res.Created) != 1 {
		t.Fatalf("import of the freed row: %+v %v", res, err)
	}
}

// TestImportRosterUndoesAFailedImport: a store failure while users are
// being created deactivates those already created and releases the rest.
func TestImportRosterUndoesAFailedImport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	inner := openStore(t)
	h0 := newHandlers(t, inner)
	lvl, err := h0.CreateLevel.Handle(ctx, commands.Meta{Actor: admin}, "Year 1")
	if err != nil {
		t.Fatal(err)
	}
	store := &racingStore{Store: inner, credentialsOK: 2}
	h := newHandlers(t, store)
	_, err = h.ImportRoster.Handle(ctx, commands.Meta{Actor: admin}, rosterRows(lvl.Level.ID), false)
	if err == nil || !contains(err.Error(), "store down") {
		t.Fatalf("error %v", err)
	}
	if n := countType(t, inner, domain.TypeUserDeactivated); n != 2 {
		t.Fatalf("%d users deactivated, want the 2 created before the failure", n)
	}
	for _, email := range []string{"first@school.test", "second@school.test"} {
		if u, _ := h0.Repo.LoadUserByEmail(ctx, email); u == nil || u.Active {
			t.Fatalf("%s: %+v, want a deactivated user", email, u)
		}
	}
	// The third address was released: free at once.
	if _, err := h0.RegisterUser.Handle(ctx, commands.Meta{Actor: admin}, domain.RegisterInput{
		Email: "third@school.test", Password: "pass-third", FullName: "Third", Role: domain.RoleAdmin}); err != nil {
		t.Fatalf("the third address: %v", err)
	}
}

// TestImportRosterRetried: the same import sent again with the same
// Idempotency-Key (its answer was lost) creates nobody twice and shows no
// password it did not set.
func TestImportRosterRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := openStore(t)
	h := newHandlers(t, store)
	lvl, err := h.CreateLevel.Handle(ctx, commands.Meta{Actor: admin}, "Year 1")
	if err != nil {
		t.Fatal(err)
	}
	m := commands.Meta{Actor: admin, IdempotencyKey: "roster-7"}
	first, err := h.ImportRoster.Handle(ctx, m, rosterRows(lvl.Level.ID), false)
	if err != nil || len(first.Generated) != 2 {
		t.Fatalf("%+v %v", first, err)
	}
	again, err := newHandlers(t, store).ImportRoster.Handle(ctx, m, rosterRows(lvl.Level.ID), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Created) != 3 || again.Created[0].ID != first.Created[0].ID || len(again.Generated) != 0 {
		t.Fatalf("retry: %+v", again)
	}
	if n := countType(t, store, domain.TypeUserRegistered); n != 3 {
		t.Fatalf("%d users registered", n)
	}
	if _, err := h.Login.Handle(ctx, commands.Meta{}, "first@school.test", first.Generated[0].Password); err != nil {
		t.Fatalf("the first password no longer logs in: %v", err)
	}
	// Another key is another import: the addresses are taken.
	_, err = h.ImportRoster.Handle(ctx, commands.Meta{Actor: admin, IdempotencyKey: "roster-8"}, rosterRows(lvl.Level.ID), false)
	var re *domain.RosterError
	if !errors.As(err, &re) || len(re.Rows) != 3 {
		t.Fatalf("another key: %v", err)
	}
}
