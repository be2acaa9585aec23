package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/cmd/platform"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// replicas opens n platforms over one PostgreSQL event store (a fresh
// schema), as several examd processes behind a load balancer.
func replicas(t *testing.T, n int) []*httptest.Server {
	t.Helper()
	ctx := context.Background()
	url := postgresURL()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("PostgreSQL is required (scripts/ensure-postgres.sh): %v", err)
	}
	schema := "sessions_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		_ = conn.Close(context.Background())
	})
	var out []*httptest.Server
	for i := range n {
		cfg := platform.Defaults()
		cfg.DataDir = t.TempDir()
		cfg.EventStore, cfg.EventStorePostgresURL, cfg.EventStorePostgresSchema = platform.EventStorePostgres, url, schema
		cfg.JWTSecret = "shared-secret-of-at-least-32-characters!"
		cfg.AdminEmail, cfg.AdminPassword = "admin@school.test", "admin-pass-1"
		cfg.Argon2 = auth.TestArgon2Params()
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		p, err := platform.Open(ctx, cfg)
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		srv := httptest.NewServer(p.Handler)
		t.Cleanup(func() { srv.Close(); _ = p.Close() })
		out = append(out, srv)
	}
	return out
}

func call(t *testing.T, srv *httptest.Server, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&buf).Encode(body)
	}
	req, _ := http.NewRequest(method, srv.URL+"/api/v1"+path, &buf)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

type tokens struct{ access, refresh string }

func login(t *testing.T, srv *httptest.Server, email, password string) tokens {
	t.Helper()
	status, body := call(t, srv, "POST", "/auth/login", "", map[string]string{"email": email, "password": password})
	if status != http.StatusOK {
		t.Fatalf("login %s: %d %v", email, status, body)
	}
	return tokens{body["access_token"].(string), body["refresh_token"].(string)}
}

// alive reports whether the access token is accepted and, separately,
// whether the refresh token still rotates (then tok.refresh is the new one).
func accessWorks(t *testing.T, srv *httptest.Server, tok tokens) bool {
	t.Helper()
	status, _ := call(t, srv, "GET", "/me", tok.access, nil)
	return status == http.StatusOK
}

func refreshWorks(t *testing.T, srv *httptest.Server, tok *tokens) bool {
	t.Helper()
	status, body := call(t, srv, "POST", "/auth/refresh", "", map[string]string{"refresh_token": tok.refresh})
	if status == http.StatusOK {
		tok.access, tok.refresh = body["access_token"].(string), body["refresh_token"].(string)
		return true
	}
	return false
}

// A password change ends every session of the user on every replica at
// once: refresh tokens of every family answer 401, and access tokens issued
// before the change answer 401 — whichever replica issued them, whichever
// replica sees them, with each replica's user cache warm. Sign out
// everywhere does the same.
func TestPasswordChangeEndsEverySessionOnEveryReplica(t *testing.T) {
	rs := replicas(t, 3)
	a, b, c := rs[0], rs[1], rs[2]
	admin := login(t, a, "admin@school.test", "admin-pass-1")
	status, level := call(t, a, "POST", "/levels", admin.access, map[string]string{"name": "Year 9"})
	if status != http.StatusCreated {
		t.Fatalf("level: %d %v", status, level)
	}
	status, student := call(t, a, "POST", "/users", admin.access, map[string]any{"email": "s@school.test", "password": "first-pass-1",
		"full_name": "S", "role": "student", "level_id": level["id"]})
	if status != http.StatusCreated {
		t.Fatalf("user: %d %v", status, student)
	}
	studentID := student["id"].(string)

	// Sessions started on two replicas, each token used everywhere (so every
	// replica has the user folded and its token verified in cache).
	s1, s2 := login(t, a, "s@school.test", "first-pass-1"), login(t, b, "s@school.test", "first-pass-1")
	for _, srv := range rs {
		if !accessWorks(t, srv, s1) || !accessWorks(t, srv, s2) {
			t.Fatal("fresh tokens refused")
		}
	}
	if !refreshWorks(t, c, &s2) {
		t.Fatal("fresh refresh token refused")
	}

	t.Run("admin resets the password", func(t *testing.T) {
		if status, body := call(t, b, "PATCH", "/users/"+studentID, admin.access, map[string]any{"password": "second-pass-2"}); status != http.StatusOK {
			t.Fatalf("password reset: %d %v", status, body)
		}
		for i, srv := range rs {
			if accessWorks(t, srv, s1) || accessWorks(t, srv, s2) {
				t.Fatalf("replica %d still takes an access token issued before the password change", i)
			}
		}
		old1, old2 := s1, s2
		if refreshWorks(t, c, &old1) || refreshWorks(t, a, &old2) {
			t.Fatal("a refresh token issued before the password change still rotates")
		}
		if status, _ := call(t, a, "POST", "/auth/login", "", map[string]string{"email": "s@school.test", "password": "first-pass-1"}); status != http.StatusUnauthorized {
			t.Fatalf("the old password: %d", status)
		}
		fresh := login(t, a, "s@school.test", "second-pass-2")
		for i, srv := range rs {
			if !accessWorks(t, srv, fresh) {
				t.Fatalf("replica %d refuses a token issued after the change", i)
			}
		}
		if !refreshWorks(t, b, &fresh) || !accessWorks(t, c, fresh) {
			t.Fatal("a session started after the change does not refresh")
		}
		// The admin's own session is untouched.
		if !accessWorks(t, c, admin) {
			t.Fatal("the admin lost their session")
		}
	})

	t.Run("the user changes their own password", func(t *testing.T) {
		x, y := login(t, a, "s@school.test", "second-pass-2"), login(t, c, "s@school.test", "second-pass-2")
		status, body := call(t, b, "POST", "/me/password", x.access, map[string]string{"current_password": "wrong-one-1", "new_password": "third-pass-3"})
		if status != http.StatusBadRequest || !accessWorks(t, a, x) {
			t.Fatalf("a wrong current password: %d %v, or it ended the session", status, body)
		}
		if status, body := call(t, b, "POST", "/me/password", x.access, map[string]string{"current_password": "second-pass-2", "new_password": "third-pass-3"}); status != http.StatusNoContent {
			t.Fatalf("change: %d %v", status, body)
		}
		for i, srv := range rs {
			if accessWorks(t, srv, x) || accessWorks(t, srv, y) {
				t.Fatalf("replica %d takes a token issued before the change", i)
			}
		}
		if refreshWorks(t, a, &y) || refreshWorks(t, c, &x) {
			t.Fatal("an old refresh token rotates")
		}
		login(t, c, "s@school.test", "third-pass-3")
	})

	t.Run("sign out everywhere", func(t *testing.T) {
		x, y := login(t, a, "s@school.test", "third-pass-3"), login(t, b, "s@school.test", "third-pass-3")
		if status, body := call(t, c, "POST", "/auth/logout-all", y.access, nil); status != http.StatusNoContent {
			t.Fatalf("logout-all: %d %v", status, body)
		}
		for i, srv := range rs {
			if accessWorks(t, srv, x) || accessWorks(t, srv, y) {
				t.Fatalf("replica %d takes a token after sign-out everywhere", i)
			}
		}
		if refreshWorks(t, b, &x) || refreshWorks(t, a, &y) {
			t.Fatal("a refresh token rotates after sign-out everywhere")
		}
		if status, body := call(t, a, "POST", "/auth/verify", "", map[string]string{"token": x.access}); status != http.StatusOK || body["active"] != false {
			t.Fatalf("introspection of an ended token: %d %v", status, body)
		}
		login(t, a, "s@school.test", "third-pass-3")
	})
}
