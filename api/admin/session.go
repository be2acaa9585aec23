package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/examhall/exam/api"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
)

// Cookie names. All are HttpOnly, SameSite=Strict, Path=/admin/.
const (
	RefreshCookie = "examhall_admin_session"
	AccessCookie  = "examhall_admin_access"
	// LoginCookie binds the login form's CSRF token before there is a session.
	LoginCookie = "examhall_admin_login"
	cookiePath  = "/admin/"
)

const sessionKey = "admin.session"

// session is the signed-in staff member of a request.
type session struct {
	user   *domain.User
	family string
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

func (h *Handler) setCookie(c *gin.Context, name, value string, expires time.Time) {
	maxAge := int(time.Until(expires).Seconds())
	if value == "" || maxAge <= 0 {
		maxAge = -1
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: cookiePath, MaxAge: maxAge,
		HttpOnly: true, Secure: secureRequest(c.Request), SameSite: http.SameSiteStrictMode})
}

func (h *Handler) clearSession(c *gin.Context) {
	h.setCookie(c, RefreshCookie, "", time.Time{})
	h.setCookie(c, AccessCookie, "", time.Time{})
}

func (h *Handler) setTokens(c *gin.Context, t commands.Tokens) {
	// Lifetimes come from the tokens, issued on the platform's clock; the
	// cookie's Max-Age is measured from now on this one, which is close
	// enough for a cookie (the token's own expiry is what is enforced).
	h.setCookie(c, RefreshCookie, t.RefreshToken, time.Now().Add(t.RefreshExpiresAt.Sub(h.now())))
	h.setCookie(c, AccessCookie, t.AccessToken, time.Now().Add(t.AccessExpiresAt.Sub(h.now())))
}

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
		h.setCookie(c, LoginCookie, binding, time.Now().Add(12*time.Hour))
	}
	h.render(c, status, "login.html", page{Title: "Sign in", Error: msg, CSRF: h.csrfToken("login|" + binding), Data: d})
}

// render overwrites CSRF only when there is a session, so the login page
// keeps its pre-session token.

func (h *Handler) login(c *gin.Context) {
	d := loginData{Email: c.PostForm("email"), Next: safeNext(c.PostForm("next"))}
	binding, _ := c.Cookie(LoginCookie)
	if !h.validCSRF("login|"+binding, c.PostForm(csrfField)) {
		h.fail(c, http.StatusForbidden, "This form has expired or did not come from this site. Reload the page and try again.")
		return
	}
	password := c.PostForm("password")
	if strings.TrimSpace(d.Email) == "" || password == "" {
		h.renderLogin(c, http.StatusBadRequest, d, "Enter your email and password.")
		return
	}
	ctx := c.Request.Context()
	t, err := h.cmd.Login.Handle(ctx, commands.Meta{RequestID: api.RequestIDFrom(c)}, d.Email, password)
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
	h.setTokens(c, t)
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
	if rt, _ := c.Cookie(RefreshCookie); rt != "" {
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

// currentSession reads the cookies: the refresh token names the session
// (its family binds the CSRF tokens); a valid access token of the same
// user saves a refresh, else the Refresh command rotates both (and refuses
// a revoked family). The user is then loaded from its stream: active staff
// only.
func (h *Handler) currentSession(c *gin.Context) (*session, bool) {
	rt, _ := c.Cookie(RefreshCookie)
	if rt == "" {
		return nil, false
	}
	rc, err := h.tokens.ParseRefresh(rt)
	if err != nil {
		return nil, false
	}
	ctx := c.Request.Context()
	at, _ := c.Cookie(AccessCookie)
	ac, err := h.tokens.ParseAccess(at)
	if err != nil || ac.UserID != rc.UserID {
		t, err := h.refresh(ctx, c, rt)
		if err != nil {
			if !errors.Is(err, domain.ErrUnauthenticated) {
				h.log.Warn("admin: refresh failed", "request_id", api.RequestIDFrom(c), "err", err)
			}
			return nil, false
		}
		h.setTokens(c, t)
	}
	u, err := h.cmd.Repo.LoadUser(ctx, rc.UserID)
	if err != nil || !u.Exists() || !u.Active {
		return nil, false
	}
	return &session{user: u, family: rc.FamilyID}, true
}

// refreshedTokens remembers a rotation for a moment, so that requests sent
// together with the same expired access token (a page and its images) share
// one rotation: presenting the rotated token again would revoke the family.
type refreshedTokens struct {
	tokens commands.Tokens
	until  time.Time
}

const refreshGrace = 30 * time.Second

func (h *Handler) refresh(ctx context.Context, c *gin.Context, rt string) (commands.Tokens, error) {
	sum := sha256.Sum256([]byte(rt))
	k := string(sum[:])
	h.refreshMu.Lock()
	defer h.refreshMu.Unlock()
	now := time.Now()
	for key, r := range h.refreshed {
		if now.After(r.until) {
			delete(h.refreshed, key)
		}
	}
	if r, ok := h.refreshed[k]; ok {
		return r.tokens, nil
	}
	t, err := h.cmd.Refresh.Handle(ctx, commands.Meta{RequestID: api.RequestIDFrom(c)}, rt)
	if err != nil {
		return commands.Tokens{}, err
	}
	h.refreshed[k] = refreshedTokens{tokens: t, until: now.Add(refreshGrace)}
	return t, nil
}
