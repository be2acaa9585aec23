package domain

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Password rules.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 256
	MaxNameLen     = 200
)

// User is the user aggregate (without credentials, which live in their own
// private stream).
type User struct {
	ID        string
	Email     string
	FullName  string
	Role      Role
	LevelID   string
	IDNumber  string
	Subject   string
	Active    bool
	CreatedAt time.Time
	Version   int64
	// SessionEpoch is the version of the user's stream at the last event
	// that ended all their sessions (password change, sign out
	// everywhere); 0 before any. Deactivation is checked with it, in
	// SessionValid, but does not move it: a reactivated user's tokens work
	// again (as before; the contract's tests hold it). Tokens and refresh-token families
	// carry the epoch they were issued in, and only the current one is
	// accepted: that is how one event ends every session on every replica.
	SessionEpoch int64
}

// Exists reports whether the user has been registered.
func (u *User) Exists() bool { return u.ID != "" }

// NormalizeEmail lower-cases and trims an address.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// RegisterInput is a new user's details.
type RegisterInput struct {
	Email, Password, FullName string
	Role                      Role
	LevelID, IDNumber         string
	Subject                   string
}

// ValidatePassword checks the password policy.
func ValidatePassword(p string) string {
	n := utf8.RuneCountInString(p)
	if n < MinPasswordLen {
		return fmt.Sprintf("must be at least %d characters", MinPasswordLen)
	}
	if len(p) > MaxPasswordLen {
		return fmt.Sprintf("must be at most %d bytes", MaxPasswordLen)
	}
	return ""
}

func validEmail(e string) bool {
	if len(e) > 254 || strings.ContainsAny(e, " <>\"") {
		return false
	}
	addr, err := mail.ParseAddress(e)
	return err == nil && addr.Address == e && strings.Contains(e[strings.LastIndexByte(e, '@'):], ".")
}

// ValidateRegistration checks a new user's fields; the level's existence is
// the caller's to check.
func ValidateRegistration(in RegisterInput) error {
	fields := map[string]string{}
	email := NormalizeEmail(in.Email)
	if email == "" {
		fields["email"] = "is required"
	} else if !validEmail(email) {
		fields["email"] = "is not a valid email address"
	}
	if msg := ValidatePassword(in.Password); msg != "" {
		fields["password"] = msg
	}
	name := strings.TrimSpace(in.FullName)
	if name == "" {
		fields["full_name"] = "is required"
	} else if len(name) > MaxNameLen {
		fields["full_name"] = fmt.Sprintf("must be at most %d characters", MaxNameLen)
	}
	if !in.Role.Valid() {
		fields["role"] = `must be one of "admin", "doctor", "student"`
	}
	if in.Role == RoleStudent && strings.TrimSpace(in.LevelID) == "" {
		fields["level_id"] = "is required for students"
	}
	if in.Role != RoleStudent && in.LevelID != "" {
		fields["level_id"] = "only students have a level"
	}
	if len(in.IDNumber) > 64 {
		fields["id_number"] = "must be at most 64 characters"
	}
	if len(in.Subject) > MaxNameLen {
		fields["subject"] = "is too long"
	}
	checkText(fields, "full_name", in.FullName, false)
	checkText(fields, "id_number", in.IDNumber, false)
	checkText(fields, "subject", in.Subject, false)
	return NewValidationError(fields)
}

// RegisterUser decides the registration events: the email reservation, the
// credentials and the user itself, each for its own stream.
func RegisterUser(userID string, in RegisterInput, passwordHash string, now time.Time) (reservation, credentials, user Event, err error) {
	if err = ValidateRegistration(in); err != nil {
		return
	}
	email := NormalizeEmail(in.Email)
	reservation = Event{Type: TypeEmailReserved, Tags: []string{UserTag(userID)}, Data: &EmailReserved{Email: email, UserID: userID}}
	credentials = Event{Type: TypePasswordSet, Tags: []string{UserTag(userID)}, Data: &PasswordSet{UserID: userID, PasswordHash: passwordHash}}
	reg := &UserRegistered{UserID: userID, Email: email, FullName: strings.TrimSpace(in.FullName), Role: in.Role,
		IDNumber: strings.TrimSpace(in.IDNumber), Subject: strings.TrimSpace(in.Subject), RegisteredAt: now.UTC()}
	if in.Role == RoleStudent {
		reg.LevelID = strings.TrimSpace(in.LevelID)
	}
	user = Event{Type: TypeUserRegistered, Tags: []string{UserTag(userID)}, Data: reg}
	return
}

// UserPatch is a partial update; nil fields stay as they are.
type UserPatch struct {
	FullName *string
	LevelID  *string
	Active   *bool
	IDNumber *string
	Subject  *string
}

// Update decides the events of a patch (the password is handled by the
// caller, who hashes it). Changing nothing decides nothing.
func (u *User) Update(p UserPatch) ([]Event, error) {
	if !u.Exists() {
		return nil, ErrNotFound
	}
	fields := map[string]string{}
	upd := &UserUpdated{UserID: u.ID}
	changed := false
	if p.FullName != nil {
		n := strings.TrimSpace(*p.FullName)
		if n == "" || len(n) > MaxNameLen {
			fields["full_name"] = "must be 1 to 200 characters"
		} else if n != u.FullName {
			upd.FullName, changed = &n, true
		}
	}
	if p.LevelID != nil {
		l := strings.TrimSpace(*p.LevelID)
		switch {
		case u.Role != RoleStudent:
			fields["level_id"] = "only students have a level"
		case l == "":
			fields["level_id"] = "is required for students"
		case l != u.LevelID:
			upd.LevelID, changed = &l, true
		}
	}
	if p.IDNumber != nil {
		v := strings.TrimSpace(*p.IDNumber)
		if len(v) > 64 {
			fields["id_number"] = "must be at most 64 characters"
		} else if v != u.IDNumber {
			upd.IDNumber, changed = &v, true
		}
	}
	if p.Subject != nil {
		v := strings.TrimSpace(*p.Subject)
		if len(v) > MaxNameLen {
			fields["subject"] = "is too long"
		} else if v != u.Subject {
			upd.Subject, changed = &v, true
		}
	}
	if p.FullName != nil {
		checkText(fields, "full_name", *p.FullName, false)
	}
	if p.IDNumber != nil {
		checkText(fields, "id_number", *p.IDNumber, false)
	}
	if p.Subject != nil {
		checkText(fields, "subject", *p.Subject, false)
	}
	if err := NewValidationError(fields); err != nil {
		return nil, err
	}
	tags := []string{UserTag(u.ID)}
	var events []Event
	if changed {
		events = append(events, Event{Type: TypeUserUpdated, Tags: tags, Data: upd})
	}
	if p.Active != nil && *p.Active != u.Active {
		if *p.Active {
			events = append(events, Event{Type: TypeUserReactivated, Tags: tags, Data: &UserReactivated{UserID: u.ID}})
		} else {
			events = append(events, Event{Type: TypeUserDeactivated, Tags: tags, Data: &UserDeactivated{UserID: u.ID}})
		}
	}
	return events, nil
}

// Apply folds one event of the user stream into the state.
func (u *User) Apply(version int64, data any) {
	u.Version = version
	switch d := data.(type) {
	case *UserRegistered:
		*u = User{ID: d.UserID, Email: d.Email, FullName: d.FullName, Role: d.Role, LevelID: d.LevelID,
			IDNumber: d.IDNumber, Subject: d.Subject, Active: true, CreatedAt: d.RegisteredAt, Version: version}
	case *UserUpdated:
		if d.FullName != nil {
			u.FullName = *d.FullName
		}
		if d.LevelID != nil {
			u.LevelID = *d.LevelID
		}
		if d.IDNumber != nil {
			u.IDNumber = *d.IDNumber
		}
		if d.Subject != nil {
			u.Subject = *d.Subject
		}
	case *UserDeactivated:
		u.Active = false
	case *SessionsRevoked:
		u.SessionEpoch = version
	case *UserReactivated:
		u.Active = true
	}
}

// RevokeSessions decides the end of every session of the user (reason:
// "password_changed", "logout_all").
func (u *User) RevokeSessions(reason string) ([]Event, error) {
	if !u.Exists() {
		return nil, ErrNotFound
	}
	return []Event{{Type: TypeSessionsRevoked, Tags: []string{UserTag(u.ID)}, Data: &SessionsRevoked{UserID: u.ID, Reason: reason}}}, nil
}

// SessionValid reports whether a token or family issued in epoch still
// stands for the user: the user is active and nothing ended their sessions
// since.
func (u *User) SessionValid(epoch int64) bool {
	return u.Exists() && u.Active && epoch == u.SessionEpoch
}

// Actor returns the user as the actor of a command.
func (u *User) Actor() Actor { return Actor{ID: u.ID, Role: u.Role, LevelID: u.LevelID} }

// Level is a class or year that students belong to and exams target.
type Level struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// CreateLevel decides a new level.
func CreateLevel(levelID, name string, now time.Time) (Event, error) {
	n := strings.TrimSpace(name)
	if n == "" || len(n) > MaxNameLen {
		return Event{}, NewValidationError(map[string]string{"name": "must be 1 to 200 characters"})
	}
	if msg := UnsafeLineText(n); msg != "" {
		return Event{}, NewValidationError(map[string]string{"name": msg})
	}
	return Event{Type: TypeLevelCreated, Data: &LevelCreated{LevelID: levelID, Name: n, CreatedAt: now.UTC()}}, nil
}

// Session is a refresh-token family: each refresh rotates the generation;
// presenting an older generation means the token was stolen or replayed,
// and the whole family is revoked.
type Session struct {
	FamilyID   string
	UserID     string
	Generation int
	Revoked    bool
	Version    int64
	// Epoch is the user's session epoch the family started in.
	Epoch int64
}

// StartSession decides a new family at generation 0, in the user's
// current session epoch.
func StartSession(familyID string, u *User, now time.Time) Event {
	return Event{Type: TypeSessionStarted, Tags: []string{UserTag(u.ID)},
		Data: &SessionStarted{FamilyID: familyID, UserID: u.ID, StartedAt: now.UTC(), Epoch: u.SessionEpoch}}
}

// Rotate decides a refresh with the generation the client presented. On
// reuse it returns the revocation event together with ErrUnauthenticated:
// the caller appends the events and then reports the error.
func (s *Session) Rotate(userID string, presented int) ([]Event, error) {
	if s.FamilyID == "" || s.Revoked || s.UserID != userID {
		return nil, ErrUnauthenticated
	}
	tags := []string{UserTag(s.UserID)}
	if presented != s.Generation {
		return []Event{{Type: TypeSessionRevoked, Tags: tags, Data: &SessionRevoked{FamilyID: s.FamilyID, Reason: "reuse"}}}, ErrUnauthenticated
	}
	return []Event{{Type: TypeSessionRefreshed, Tags: tags, Data: &SessionRefreshed{FamilyID: s.FamilyID, Generation: s.Generation + 1}}}, nil
}

// Revoke ends the family (logout). Revoking twice decides nothing.
func (s *Session) Revoke(reason string) []Event {
	if s.FamilyID == "" || s.Revoked {
		return nil
	}
	return []Event{{Type: TypeSessionRevoked, Tags: []string{UserTag(s.UserID)}, Data: &SessionRevoked{FamilyID: s.FamilyID, Reason: reason}}}
}

// Apply folds one event of the session stream into the state.
func (s *Session) Apply(version int64, data any) {
	s.Version = version
	switch d := data.(type) {
	case *SessionStarted:
		s.FamilyID, s.UserID, s.Epoch = d.FamilyID, d.UserID, d.Epoch
	case *SessionRefreshed:
		s.Generation = d.Generation
	case *SessionRevoked:
		s.Revoked = true
	}
}
