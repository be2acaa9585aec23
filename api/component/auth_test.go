package component_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func (e *env) refresh(token string) *resp {
	return e.post("/auth/refresh", "", map[string]string{"refresh_token": token})
}

func TestAuthFlows(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	s := w.studentA

	t.Run("login answers tokens and the user", func(t *testing.T) {
		r := e.post("/auth/login", "", map[string]string{"email": strings.ToUpper(s.Email), "password": s.Password}).want(t, http.StatusOK)
		m := r.obj(t)
		for _, k := range []string{"access_token", "refresh_token", "token_type", "expires_in", "user"} {
			if _, ok := m[k]; !ok {
				t.Errorf("login response lacks %q: %s", k, r)
			}
		}
		var tr tokenResponse
		r.decode(t, &tr)
		if tr.TokenType != "Bearer" || tr.AccessToken == "" || tr.RefreshToken == "" || tr.AccessToken == tr.RefreshToken {
			t.Errorf("tokens: %+v", tr)
		}
		if tr.ExpiresIn < 899 || tr.ExpiresIn > 900 {
			t.Errorf("expires_in = %d, want the 15 minute access lifetime", tr.ExpiresIn)
		}
		u := tr.User
		if u.ID != s.ID || u.Email != s.Email || u.Role != "student" || !u.Active || u.FullName == "" || u.CreatedAt == "" ||
			u.LevelID == nil || *u.LevelID != w.levelA || u.IDNumber == nil || u.Subject != nil {
			t.Errorf("student user: %+v", u)
		}
		d := e.login(w.doctor.Email, w.doctor.Password)
		var me userView
		e.get("/me", d.Access).want(t, http.StatusOK).decode(t, &me)
		if me.Role != "doctor" || me.Subject == nil || *me.Subject != "Biology" || me.LevelID != nil {
			t.Errorf("doctor user: %+v", me)
		}
		if strings.Contains(string(r.body), "password") || strings.Contains(string(r.body), "argon2") {
			t.Errorf("login response mentions the password: %s", r)
		}
	})

	t.Run("me", func(t *testing.T) {
		var me userView
		e.get("/me", s.Access).want(t, http.StatusOK).decode(t, &me)
		if me.ID != s.ID || me.Email != s.Email || me.Role != "student" {
			t.Fatalf("me = %+v", me)
		}
	})

	t.Run("verify", func(t *testing.T) {
		m := e.post("/auth/verify", "", map[string]string{"token": s.Access}).want(t, http.StatusOK).obj(t)
		exp, _ := m["exp"].(float64)
		if m["active"] != true || m["sub"] != s.ID || m["role"] != "student" ||
			time.Unix(int64(exp), 0).Sub(e.clock.Now()) > 15*time.Minute || time.Unix(int64(exp), 0).Before(e.clock.Now()) {
			t.Fatalf("verify of a valid token: %v", m)
		}
		gone := e.student(w.levelA)
		e.deactivate(gone)
		for name, tok := range map[string]string{
			"garbage": "garbage", "refresh token": s.Refresh, "expired": e.expiredToken(s), "forged": e.forgedToken(s),
			"alg none": e.algNoneToken(s), "deactivated user": gone.Access,
		} {
			r := e.post("/auth/verify", "", map[string]string{"token": tok}).want(t, http.StatusOK)
			if strings.TrimSpace(string(r.body)) != `{"active":false}` {
				t.Errorf("verify of %s: %s", name, r)
			}
		}
	})

	t.Run("refresh rotates, and reuse revokes the family", func(t *testing.T) {
		u := e.login(s.Email, s.Password)
		other := e.login(s.Email, s.Password) // another device, another family
		var r1 tokenResponse
		e.refresh(u.Refresh).want(t, http.StatusOK).decode(t, &r1)
		if r1.TokenType != "Bearer" || r1.RefreshToken == u.Refresh || r1.AccessToken == "" || r1.User.ID != s.ID {
			t.Fatalf("refresh response: %+v", r1)
		}
		e.get("/me", r1.AccessToken).want(t, http.StatusOK)
		var r2 tokenResponse
		e.refresh(r1.RefreshToken).want(t, http.StatusOK).decode(t, &r2)

		// The first token was rotated away: presenting it again is theft.
		e.refresh(u.Refresh).wantError(t, http.StatusUnauthorized, "unauthenticated")
		// ... and the newest token of that family is refused too.
		e.refresh(r2.RefreshToken).wantError(t, http.StatusUnauthorized, "unauthenticated")
		e.refresh(r1.RefreshToken).wantError(t, http.StatusUnauthorized, "unauthenticated")
		// Another family is not affected.
		e.refresh(other.Refresh).want(t, http.StatusOK)
		// An access token is not a refresh token.
		e.refresh(other.Access).wantError(t, http.StatusUnauthorized, "unauthenticated")
	})

	t.Run("logout revokes the refresh token", func(t *testing.T) {
		u := e.login(s.Email, s.Password)
		r := e.post("/auth/logout", "", map[string]string{"refresh_token": u.Refresh}).want(t, http.StatusNoContent)
		if len(r.body) != 0 {
			t.Errorf("204 with a body: %s", r)
		}
		e.refresh(u.Refresh).wantError(t, http.StatusUnauthorized, "unauthenticated")
		e.post("/auth/logout", "", map[string]string{"refresh_token": u.Refresh}).want(t, http.StatusNoContent)
		e.post("/auth/logout", "", map[string]string{"refresh_token": "garbage"}).want(t, http.StatusNoContent)
	})

	t.Run("the same 401 for unknown email, wrong password and deactivated user", func(t *testing.T) {
		gone := e.student(w.levelA)
		e.deactivate(gone)
		var messages []string
		for _, c := range []struct{ email, password string }{
			{"nobody@school.test", "whatever-123"},
			{s.Email, "wrong-password"},
			{gone.Email, gone.Password},
		} {
			r := e.post("/auth/login", "", map[string]string{"email": c.email, "password": c.password})
			messages = append(messages, r.wantError(t, http.StatusUnauthorized, "invalid_credentials").errorBody(t).Error.Message)
		}
		if messages[0] != messages[1] || messages[1] != messages[2] {
			t.Errorf("messages differ, accounts can be enumerated: %q", messages)
		}
		// A deactivated user's refresh token no longer works either.
		e.refresh(gone.Refresh).wantError(t, http.StatusUnauthorized, "unauthenticated")
	})

	t.Run("a deactivated user is refused at once", func(t *testing.T) {
		for range 5 {
			u := e.student(w.levelA)
			e.call(http.MethodPatch, "/users/"+u.ID, e.admin.Access, map[string]any{"active": false}).want(t, http.StatusOK)
			e.call(http.MethodGet, "/me", u.Access, nil, "X-Min-Position", "").wantError(t, http.StatusUnauthorized, "unauthenticated")
			e.call(http.MethodPut, "/exams/any/answers/q1", u.Access, map[string]any{"choices": []string{"a"}}).
				wantError(t, http.StatusUnauthorized, "unauthenticated")
			// Reactivated, the same token works again.
			e.call(http.MethodPatch, "/users/"+u.ID, e.admin.Access, map[string]any{"active": true}).want(t, http.StatusOK)
			e.call(http.MethodGet, "/me", u.Access, nil, "X-Min-Position", "").want(t, http.StatusOK)
		}
	})

	t.Run("failed logins lock that account only", func(t *testing.T) {
		victim := e.student(w.levelA)
		bystander := e.student(w.levelA)
		for i := range 5 {
			e.post("/auth/login", "", map[string]string{"email": victim.Email, "password": "guess-" + strconv.Itoa(i)}).
				wantError(t, http.StatusUnauthorized, "invalid_credentials")
		}
		r := e.post("/auth/login", "", map[string]string{"email": victim.Email, "password": "guess-again"})
		r.wantError(t, http.StatusTooManyRequests, "rate_limited")
		if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("Retry-After = %q, want whole seconds >= 1", r.header.Get("Retry-After"))
		}
		// Locked even with the right password.
		e.post("/auth/login", "", map[string]string{"email": victim.Email, "password": victim.Password}).
			wantError(t, http.StatusTooManyRequests, "rate_limited")
		// Same client address, another account: not affected.
		e.login(bystander.Email, bystander.Password)
		// The email's case does not get around the lock.
		e.post("/auth/login", "", map[string]string{"email": strings.ToUpper(victim.Email), "password": victim.Password}).
			wantError(t, http.StatusTooManyRequests, "rate_limited")
		// After the lock-out the account logs in again.
		e.clock.Advance(61 * time.Second)
		e.login(victim.Email, victim.Password)
	})
}
