package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/examhall/exam/api"
	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/gin-gonic/gin"
)

// Cookie names. Both are HttpOnly, SameSite=Strict, Path=/admin/.
const (
	// SessionCookie holds the refresh token the Login command issued: it
	// names the session (user, refresh-token family, generation).
	SessionCookie = "examhall_admin_session"
	// LoginCookie binds the login form's CSRF token before there is a session.
	LoginCookie = "examhall_admin_login"
	// DeviceCookie holds the device token of this browser's last login, so
	// failed logins of others (an attacker who knows the admin's email) do
	// not lock this browser out (docs/operations.md, Security).
	DeviceCookie = "examhall_admin_device"
	cookiePath   = "/admin/"
)

const sessionKey = "admin.session"

// session is the signed-in staff member of a request.
type session struct {
	user *domain.User
	// cookie is the session cookie's value: the CSRF tokens' key.
	cookie string
}

func sessionFrom(c *gin.Context) *session {
	v, _ := c.Get(sessionKey)
	s, _ := v.(*session)
	return s
}

// secureRequest: the request came over TLS, directly or through a proxy
// that says so (nginx sets X-Forwarded-Proto).
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (h *Handler) setCookie(c *gin.Context, name, value string, maxAge time.Duration) {
	age := int(maxAge.Seconds())
	if value == "" || age <= 0 {
		age = -1
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: cookiePath, MaxAge: age,
		HttpOnly: true, Secure: secureRequest(c.Request), SameSite: http.SameSiteStrictMode})
}

func (h *Handler) clearSession(c *gin.Context) { h.setCookie(c, SessionCookie, "", 0) }

// loginData is the login form.
type loginData struct {
	Email string
	Next  string
}

func (h *Handler) loginPage(c *gin.Context) {
	if s, ok := h.currentSession(c); ok && s.user.Role != domain.RoleStudent {
		c.Redirect(http.StatusSeeOther, "/admin/")
		return
	}
	h.renderLogin(c, http.StatusOK, loginData{Next: safeNext(c.Query("next"))}, "")
}

func (h *Handler) renderLogin(c *gin.Context, status int, d loginData, msg string) {
	binding, _ := c.Cookie(LoginCookie)
	if binding == "" {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		binding = base64.RawURLEncoding.EncodeToString(b)
		h.setCookie(c, LoginCookie, binding, 12*time.Hour)
	}
	h.render(c, status, "login.html", page{Title: "Sign in", Error: msg, CSRF: csrfToken(binding), Data: d})
}

// render overwrites CSRF only when there is a session, so the login page
// keeps its pre-session token.

func (h *Handler) login(c *gin.Context) {
	d := loginData{Email: c.PostForm("email"), Next: safeNext(c.PostForm("next"))}
	binding, _ := c.Cookie(LoginCookie)
	if !validCSRF(binding, c.PostForm(csrfField)) {
		h.fail(c, http.StatusForbidden, "This form has expired or did not come from this site. Reload the page and try again.")
		return
	}
	password := c.PostForm("password")
	if strings.TrimSpace(d.Email) == "" || password == "" {
		h.renderLogin(c, http.StatusBadRequest, d, "Enter your email and password.")
		return
	}
	ctx := c.Request.Context()
	device, _ := c.Cookie(DeviceCookie)
	t, err := h.cmd.Login.HandleDevice(ctx, commands.Meta{RequestID: api.RequestIDFrom(c)}, d.Email, password, device)
	switch {
	case errors.Is(err, domain.ErrInvalidCredentials):
		h.renderLogin(c, http.StatusUnauthorized, d, "Wrong email or password.")
		return
	case errors.Is(err, domain.ErrRateLimited):
		h.renderLogin(c, http.StatusTooManyRequests, d, "Too many failed attempts. Wait a few minutes and try again.")
		return
	case err != nil:
		h.failErr(c, err)
		return
	}
	if t.User.Role == domain.RoleStudent {
		// End the session just started: students use the exam app.
		_ = h.cmd.Logout.Handle(ctx, commands.Meta{RequestID: api.RequestIDFrom(c)}, t.RefreshToken)
		h.render(c, http.StatusForbidden, "refused.html", page{Title: "Not for students"})
		return
	}
	h.setCookie(c, SessionCookie, t.RefreshToken, min(h.sessionTTL, t.RefreshExpiresAt.Sub(h.now())))
	if t.DeviceToken != "" {
		h.setCookie(c, DeviceCookie, t.DeviceToken, auth.DeviceTTL)
	}
	next := d.Next
	if next == "" {
		next = "/admin/"
	}
	c.Redirect(http.StatusSeeOther, next)
}

// safeNext keeps a post-login redirect inside the admin.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(u.Path, "/admin/") || strings.HasPrefix(next, "//") ||
		strings.Contains(next, "\\") {
		return ""
	}
	return u.RequestURI()
}

func (h *Handler) logout(c *gin.Context) {
	if rt, _ := c.Cookie(SessionCookie); rt != "" {
		if err := h.cmd.Logout.Handle(c.Request.Context(), h.meta(c), rt); err != nil {
			h.failErr(c, err)
			return
		}
	}
	h.clearSession(c)
	c.Redirect(http.StatusSeeOther, "/admin/login")
}

// session authenticates a request from its cookies, or sends it to the
// login page (students to a refusal).
func (h *Handler) session(c *gin.Context) {
	s, ok := h.currentSession(c)
	if !ok {
		h.clearSession(c)
		if c.Request.Method == http.MethodGet {
			c.Redirect(http.StatusSeeOther, "/admin/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
			c.Abort()
			return
		}
		h.fail(c, http.StatusUnauthorized, "Your session has ended. Sign in again.")
		return
	}
	if s.user.Role != domain.RoleAdmin && s.user.Role != domain.RoleDoctor {
		h.render(c, http.StatusForbidden, "refused.html", page{Title: "Not for students"})
		c.Abort()
		return
	}
	c.Set(sessionKey, s)
	c.Set("user_id", s.user.ID) // the access log reports it
	c.Next()
}

// currentSession checks the session cookie on every request, on whichever
// replica serves it: the refresh token's signature and expiry; its family's
// stream in the event store (not revoked by a logout or a detected reuse,
// at the generation the token names, started less than the session lifetime
// ago); and the user, loaded from its stream: active. The token is never
// rotated here, so requests sent together (a page and its images, to
// several replicas) cannot trip the reuse detection.
func (h *Handler) currentSession(c *gin.Context) (*session, bool) {
	rt, _ := c.Cookie(SessionCookie)
	if rt == "" {
		return nil, false
	}
	claims, err := h.tokens.ParseRefresh(rt)
	if err != nil {
		return nil, false
	}
	ctx := c.Request.Context()
	live, epoch, err := h.liveSession(ctx, claims.FamilyID, claims.UserID, claims.Generation)
	if err != nil {
		h.log.Warn("admin: session check failed", "request_id", api.RequestIDFrom(c), "err", err)
		return nil, false
	}
	if !live {
		return nil, false
	}
	u, err := h.cmd.Repo.LoadUser(ctx, claims.UserID)
	if err != nil || !u.Exists() || !u.SessionValid(epoch) {
		return nil, false
	}
	return &session{user: u, cookie: rt}, true
}

// liveSession folds the family's stream; it also reports the session epoch
// the family started in (a password change or a sign-out everywhere ends it).
func (h *Handler) liveSession(ctx context.Context, family, userID string, generation int) (bool, int64, error) {
	recs, err := h.events.Query(ctx, eventstore.Filter{StreamID: domain.SessionStream(family), Limit: 10_000})
	if err != nil {
		return false, 0, fmt.Errorf("admin: load session: %w", err)
	}
	var s domain.Session
	var started time.Time
	for _, rec := range recs {
		data, err := domain.DecodeEvent(rec.Type, rec.Data)
		if errors.Is(err, domain.ErrUnknownEventType) {
			continue
		} else if err != nil {
			return false, 0, fmt.Errorf("admin: load session: %w", err)
		}
		if st, ok := data.(*domain.SessionStarted); ok {
			started = st.StartedAt
		}
		s.Apply(rec.Version, data)
	}
	return s.FamilyID == family && s.UserID == userID && !s.Revoked && s.Generation == generation &&
		h.now().Sub(started) < h.sessionTTL, s.Epoch, nil
}
