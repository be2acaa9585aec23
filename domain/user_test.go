package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func validStudent() RegisterInput {
	return RegisterInput{Email: "amira@example.edu", Password: "correct horse", FullName: "Amira Saleh", Role: RoleStudent, LevelID: levelID, IDNumber: "2024-001"}
}

func TestValidateRegistration(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*RegisterInput)
		fields []string
	}{
		{"valid student", func(*RegisterInput) {}, nil},
		{"valid doctor with a subject", func(in *RegisterInput) {
			in.Role, in.LevelID, in.IDNumber, in.Subject = RoleDoctor, "", "", "Mathematics"
		}, nil},
		{"valid admin", func(in *RegisterInput) { in.Role, in.LevelID = RoleAdmin, "" }, nil},
		{"upper-case email with spaces is valid (normalised)", func(in *RegisterInput) { in.Email = "  Amira@Example.EDU " }, nil},
		{"email is required", func(in *RegisterInput) { in.Email = "   " }, []string{"email"}},
		{"email without @", func(in *RegisterInput) { in.Email = "amira.example.edu" }, []string{"email"}},
		{"email without a dot in the domain", func(in *RegisterInput) { in.Email = "amira@localhost" }, []string{"email"}},
		{"email with a display name", func(in *RegisterInput) { in.Email = "Amira <amira@example.edu>" }, []string{"email"}},
		{"email with a space inside", func(in *RegisterInput) { in.Email = "am ira@example.edu" }, []string{"email"}},
		{"email longer than 254", func(in *RegisterInput) { in.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 190) + ".edu" }, []string{"email"}},
		{"password of 7 characters", func(in *RegisterInput) { in.Password = "1234567" }, []string{"password"}},
		{"password of 8 characters", func(in *RegisterInput) { in.Password = "12345678" }, nil},
		{"password of 8 non-ASCII characters counts characters, not bytes", func(in *RegisterInput) { in.Password = "пароль12" }, nil},
		{"password of 4 two-byte characters is too short", func(in *RegisterInput) { in.Password = "пупс" }, []string{"password"}},
		{"password of 256 bytes", func(in *RegisterInput) { in.Password = strings.Repeat("p", MaxPasswordLen) }, nil},
		{"password of 257 bytes", func(in *RegisterInput) { in.Password = strings.Repeat("p", MaxPasswordLen+1) }, []string{"password"}},
		{"full name is required", func(in *RegisterInput) { in.FullName = " \t" }, []string{"full_name"}},
		{"full name longer than 200", func(in *RegisterInput) { in.FullName = strings.Repeat("n", MaxNameLen+1) }, []string{"full_name"}},
		{"role is required", func(in *RegisterInput) { in.Role = ""; in.LevelID = "" }, []string{"role"}},
		{"system is not a user role", func(in *RegisterInput) { in.Role = RoleSystem; in.LevelID = "" }, []string{"role"}},
		{"unknown role", func(in *RegisterInput) { in.Role = "teacher"; in.LevelID = "" }, []string{"role"}},
		{"student needs a level", func(in *RegisterInput) { in.LevelID = "" }, []string{"level_id"}},
		{"student's level cannot be blank", func(in *RegisterInput) { in.LevelID = "  " }, []string{"level_id"}},
		{"doctor cannot have a level", func(in *RegisterInput) { in.Role = RoleDoctor }, []string{"level_id"}},
		{"admin cannot have a level", func(in *RegisterInput) { in.Role = RoleAdmin }, []string{"level_id"}},
		{"id number longer than 64", func(in *RegisterInput) { in.IDNumber = strings.Repeat("9", 65) }, []string{"id_number"}},
		{"subject longer than 200", func(in *RegisterInput) { in.Subject = strings.Repeat("s", MaxNameLen+1) }, []string{"subject"}},
		{"every problem at once", func(in *RegisterInput) {
			*in = RegisterInput{Email: "x", Password: "short", Role: RoleDoctor, LevelID: "l"}
		}, []string{"email", "password", "full_name", "level_id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := validStudent()
			tc.edit(&in)
			err := ValidateRegistration(in)
			if tc.fields == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			wantFields(t, err, tc.fields...)
		})
	}
}

func TestRegisterUser(t *testing.T) {
	in := validStudent()
	in.Email, in.FullName, in.IDNumber = " Amira.Saleh@Example.EDU ", "  Amira Saleh ", " 2024-001 "
	now := t0.In(time.FixedZone("X", 7200))
	res, cred, user, err := RegisterUser("user-1", in, "$argon2id$hash", now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Type != TypeEmailReserved || cred.Type != TypePasswordSet || user.Type != TypeUserRegistered {
		t.Fatalf("types = %s %s %s", res.Type, cred.Type, user.Type)
	}
	if r := res.Data.(*EmailReserved); r.Email != "amira.saleh@example.edu" || r.UserID != "user-1" {
		t.Fatalf("reservation = %+v", r)
	}
	if c := cred.Data.(*PasswordSet); c.PasswordHash != "$argon2id$hash" || c.UserID != "user-1" {
		t.Fatalf("credentials = %+v", c)
	}
	if EmailStream(in.Email) != EmailStream("amira.saleh@example.edu") {
		t.Fatal("email stream depends on case or spaces")
	}
	if strings.Contains(EmailStream(in.Email), "amira") {
		t.Fatal("email stream id leaks the address")
	}
	u := &User{}
	foldUser(t, u, user)
	want := User{ID: "user-1", Email: "amira.saleh@example.edu", FullName: "Amira Saleh", Role: RoleStudent, LevelID: levelID,
		IDNumber: "2024-001", Active: true, CreatedAt: t0, Version: 1}
	if *u != want {
		t.Fatalf("user = %+v\nwant   %+v", *u, want)
	}
	if a := u.Actor(); a != (Actor{ID: "user-1", Role: RoleStudent, LevelID: levelID}) {
		t.Fatalf("actor = %+v", a)
	}

	t.Run("invalid input decides nothing", func(t *testing.T) {
		bad := validStudent()
		bad.Password = "x"
		res, cred, user, err := RegisterUser("user-2", bad, "h", t0)
		if !errors.Is(err, ErrValidation) || res.Type != "" || cred.Type != "" || user.Type != "" {
			t.Fatalf("= %v %v %v %v", res, cred, user, err)
		}
	})
}

func registeredUser(t *testing.T, role Role) *User {
	t.Helper()
	in := validStudent()
	if role != RoleStudent {
		in.Role, in.LevelID, in.IDNumber, in.Subject = role, "", "", "Physics"
	}
	_, _, ev, err := RegisterUser("user-1", in, "h", t0)
	if err != nil {
		t.Fatal(err)
	}
	u := &User{}
	foldUser(t, u, ev)
	return u
}

func TestUserUpdate(t *testing.T) {
	deactivate := func(t *testing.T, u *User) {
		evs, err := u.Update(UserPatch{Active: ptr(false)})
		if err != nil {
			t.Fatal(err)
		}
		foldUser(t, u, evs...)
	}
	tests := []struct {
		name      string
		role      Role
		before    func(*testing.T, *User)
		patch     UserPatch
		fields    []string
		wantTypes []string
		check     func(*testing.T, *User)
	}{
		{name: "empty patch decides nothing", role: RoleStudent},
		{name: "full name change", role: RoleStudent, patch: UserPatch{FullName: ptr(" Amira S. ")}, wantTypes: []string{TypeUserUpdated},
			check: func(t *testing.T, u *User) {
				if u.FullName != "Amira S." {
					t.Fatalf("full name = %q", u.FullName)
				}
			}},
		{name: "same full name (after trimming) decides nothing", role: RoleStudent, patch: UserPatch{FullName: ptr(" Amira Saleh ")}},
		{name: "empty full name is rejected", role: RoleStudent, patch: UserPatch{FullName: ptr("  ")}, fields: []string{"full_name"}},
		{name: "full name longer than 200 is rejected", role: RoleStudent, patch: UserPatch{FullName: ptr(strings.Repeat("n", 201))}, fields: []string{"full_name"}},
		{name: "student moves level", role: RoleStudent, patch: UserPatch{LevelID: ptr(otherLevelID)}, wantTypes: []string{TypeUserUpdated},
			check: func(t *testing.T, u *User) {
				if u.LevelID != otherLevelID || u.Actor().LevelID != otherLevelID {
					t.Fatalf("level = %q", u.LevelID)
				}
			}},
		{name: "same level decides nothing", role: RoleStudent, patch: UserPatch{LevelID: ptr(levelID)}},
		{name: "student's level cannot be emptied", role: RoleStudent, patch: UserPatch{LevelID: ptr(" ")}, fields: []string{"level_id"}},
		{name: "doctor cannot get a level", role: RoleDoctor, patch: UserPatch{LevelID: ptr(levelID)}, fields: []string{"level_id"}},
		{name: "id number change", role: RoleStudent, patch: UserPatch{IDNumber: ptr("2024-002")}, wantTypes: []string{TypeUserUpdated},
			check: func(t *testing.T, u *User) {
				if u.IDNumber != "2024-002" {
					t.Fatalf("id number = %q", u.IDNumber)
				}
			}},
		{name: "id number longer than 64 is rejected", role: RoleStudent, patch: UserPatch{IDNumber: ptr(strings.Repeat("9", 65))}, fields: []string{"id_number"}},
		{name: "subject change", role: RoleDoctor, patch: UserPatch{Subject: ptr("Chemistry")}, wantTypes: []string{TypeUserUpdated},
			check: func(t *testing.T, u *User) {
				if u.Subject != "Chemistry" {
					t.Fatalf("subject = %q", u.Subject)
				}
			}},
		{name: "subject longer than 200 is rejected", role: RoleDoctor, patch: UserPatch{Subject: ptr(strings.Repeat("s", 201))}, fields: []string{"subject"}},
		{name: "deactivate an active user", role: RoleStudent, patch: UserPatch{Active: ptr(false)}, wantTypes: []string{TypeUserDeactivated},
			check: func(t *testing.T, u *User) {
				if u.Active {
					t.Fatal("still active")
				}
			}},
		{name: "activate an active user decides nothing", role: RoleStudent, patch: UserPatch{Active: ptr(true)}},
		{name: "deactivate an inactive user decides nothing", role: RoleStudent, before: deactivate, patch: UserPatch{Active: ptr(false)}},
		{name: "reactivate an inactive user", role: RoleStudent, before: deactivate, patch: UserPatch{Active: ptr(true)}, wantTypes: []string{TypeUserReactivated},
			check: func(t *testing.T, u *User) {
				if !u.Active {
					t.Fatal("still inactive")
				}
			}},
		{name: "field change and deactivation together", role: RoleDoctor, patch: UserPatch{FullName: ptr("Dr. Who"), Subject: ptr("Time"), Active: ptr(false)},
			wantTypes: []string{TypeUserUpdated, TypeUserDeactivated},
			check: func(t *testing.T, u *User) {
				if u.FullName != "Dr. Who" || u.Subject != "Time" || u.Active {
					t.Fatalf("user = %+v", u)
				}
			}},
		{name: "one invalid field rejects the whole patch", role: RoleStudent, patch: UserPatch{FullName: ptr("New Name"), IDNumber: ptr(strings.Repeat("9", 65)), Active: ptr(false)},
			fields: []string{"id_number"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := registeredUser(t, tc.role)
			if tc.before != nil {
				tc.before(t, u)
			}
			before := *u
			evs, err := u.Update(tc.patch)
			if tc.fields != nil {
				wantFields(t, err, tc.fields...)
				if evs != nil {
					t.Fatal("invalid patch decided events")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantTypes(t, evs, tc.wantTypes...)
			if len(tc.wantTypes) == 0 {
				return
			}
			if d, ok := evs[0].Data.(*UserUpdated); ok {
				// Only the fields that changed are carried.
				if (d.FullName != nil) != (tc.patch.FullName != nil) || (d.LevelID != nil) != (tc.patch.LevelID != nil) ||
					(d.IDNumber != nil) != (tc.patch.IDNumber != nil) || (d.Subject != nil) != (tc.patch.Subject != nil) {
					t.Fatalf("update payload = %+v for patch %+v", d, tc.patch)
				}
			}
			foldUser(t, u, evs...)
			if u.Version != before.Version+int64(len(evs)) {
				t.Fatalf("version = %d", u.Version)
			}
			tc.check(t, u)
		})
	}
	t.Run("unknown user is not found", func(t *testing.T) {
		_, err := (&User{}).Update(UserPatch{FullName: ptr("x")})
		wantErr(t, err, ErrNotFound)
	})
}

func TestCreateLevel(t *testing.T) {
	ev, err := CreateLevel("level-9", "  Year 3  ", t0)
	if err != nil || ev.Type != TypeLevelCreated || ev.Data.(*LevelCreated).Name != "Year 3" {
		t.Fatalf("= %+v, %v", ev, err)
	}
	for _, name := range []string{"", "   ", strings.Repeat("y", MaxNameLen+1)} {
		_, err := CreateLevel("level-9", name, t0)
		wantFields(t, err, "name")
	}
}

func startedSession(t *testing.T) *Session {
	t.Helper()
	s := &Session{}
	foldSession(t, s, StartSession("fam-1", &User{ID: "user-1"}, t0))
	return s
}

func TestSessionRotate(t *testing.T) {
	t.Run("happy path increments the generation each time", func(t *testing.T) {
		s := startedSession(t)
		for gen := 0; gen < 3; gen++ {
			evs, err := s.Rotate("user-1", gen)
			if err != nil {
				t.Fatalf("rotate %d: %v", gen, err)
			}
			wantTypes(t, evs, TypeSessionRefreshed)
			if d := evs[0].Data.(*SessionRefreshed); d.Generation != gen+1 || d.FamilyID != "fam-1" {
				t.Fatalf("refreshed = %+v", d)
			}
			foldSession(t, s, evs...)
			if s.Generation != gen+1 || s.Revoked {
				t.Fatalf("session = %+v", s)
			}
		}
	})
	reuse := []struct {
		name      string
		rotations int
		presented int
	}{
		{"presenting the previous generation revokes the family", 1, 0},
		{"presenting a much older generation revokes the family", 5, 1},
		{"presenting a generation from the future revokes the family", 1, 7},
	}
	for _, tc := range reuse {
		t.Run(tc.name, func(t *testing.T) {
			s := startedSession(t)
			for gen := 0; gen < tc.rotations; gen++ {
				evs, _ := s.Rotate("user-1", gen)
				foldSession(t, s, evs...)
			}
			evs, err := s.Rotate("user-1", tc.presented)
			wantErr(t, err, ErrUnauthenticated)
			wantTypes(t, evs, TypeSessionRevoked)
			if d := evs[0].Data.(*SessionRevoked); d.Reason != "reuse" || d.FamilyID != "fam-1" {
				t.Fatalf("revoked = %+v", d)
			}
			foldSession(t, s, evs...)
			// The legitimate holder of the current token is locked out too.
			evs, err = s.Rotate("user-1", s.Generation)
			wantErr(t, err, ErrUnauthenticated)
			if evs != nil {
				t.Fatalf("rotation of a revoked family decided %v", eventTypes(evs))
			}
		})
	}
	t.Run("unknown family: unauthenticated, nothing decided", func(t *testing.T) {
		evs, err := (&Session{}).Rotate("user-1", 0)
		wantErr(t, err, ErrUnauthenticated)
		if evs != nil {
			t.Fatal("events decided")
		}
	})
	t.Run("another user's family: unauthenticated, nothing decided", func(t *testing.T) {
		evs, err := startedSession(t).Rotate("user-2", 0)
		wantErr(t, err, ErrUnauthenticated)
		if evs != nil {
			t.Fatal("events decided")
		}
	})
}

func TestSessionRevoke(t *testing.T) {
	s := startedSession(t)
	evs := s.Revoke("logout")
	wantTypes(t, evs, TypeSessionRevoked)
	if d := evs[0].Data.(*SessionRevoked); d.Reason != "logout" {
		t.Fatalf("reason = %q", d.Reason)
	}
	foldSession(t, s, evs...)
	if !s.Revoked {
		t.Fatal("not revoked")
	}
	if again := s.Revoke("logout"); again != nil {
		t.Fatalf("revoking twice decided %v", eventTypes(again))
	}
	if none := (&Session{}).Revoke("logout"); none != nil {
		t.Fatal("revoking an unknown family decided events")
	}
}
