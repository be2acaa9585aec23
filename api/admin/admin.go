// Package admin is the web admin served by examd at /admin/: server-rendered
// HTML (html/template, so every value is escaped) for admins and doctors.
// It is a thin face over the same write side as the JSON API: every change
// goes through commands.Handlers with the actor and a fresh request id, so
// events, audit and rules are the API's; reads come from the same read
// models, and the exports and imports are served by the API's own routes
// through an in-process sub-request.
//
// Sessions: logging in runs the Login command (password check, throttle),
// which starts a refresh-token family in the event store; the refresh token
// goes in an HttpOnly cookie scoped to /admin/ with SameSite=Strict (Secure
// over TLS or behind a proxy that says https) and is the session. Every
// request checks it against the family's stream (logging out revokes the
// family through the Logout command, on every replica at once; a session
// lasts at most Config.SessionTTL) and reloads the user from its stream, so a
// deactivation or a role change applies at once. The token is not rotated,
// so parallel requests to several replicas cannot race. Each form carries a
// CSRF token, an HMAC keyed with the session cookie (which a page from
// another site can neither read nor send: HttpOnly, SameSite=Strict), so it
// needs no server key and holds on every replica; a POST without the right
// one is refused (403) before any command runs.
// Pages are sent with a strict Content-Security-Policy: no inline script or
// style, everything from the binary's embedded assets.
package admin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/examhall/exam/api"
	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ContentSecurityPolicy is sent with every admin response.
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// Tokens is what the admin needs of the token issuer (auth.TokenIssuer):
// sessions are refresh tokens. It mints no access tokens: it calls the
// commands and queries directly.
type Tokens interface {
	ParseRefresh(token string) (auth.RefreshClaims, error)
}

// Config wires the admin.
type Config struct {
	Commands *commands.Handlers
	Reads    api.ReadModel
	Events   api.EventQuerier
	Images   api.ImageSource // optional: without it no image is shown
	Tokens   Tokens
	Log      *slog.Logger
	// SessionTTL bounds a session from its login (default 12 hours).
	SessionTTL time.Duration
	// Imports is the API's cap on concurrent file imports (default: one
	// of the admin's own).
	Imports *api.Admission
	// Now is the platform's clock (default time.Now), the one tokens and
	// sessions are stamped with.
	Now func() time.Time
}

// Validate reports every missing dependency.
func (c *Config) Validate() error {
	var errs []error
	if c.Commands == nil {
		errs = append(errs, errors.New("admin: Commands is required"))
	}
	if c.Reads == nil {
		errs = append(errs, errors.New("admin: Reads is required"))
	}
	if c.Events == nil {
		errs = append(errs, errors.New("admin: Events is required"))
	}
	if c.Tokens == nil {
		errs = append(errs, errors.New("admin: Tokens is required"))
	}
	return errors.Join(errs...)
}

// Handler serves the admin.
type Handler struct {
	cmd    *commands.Handlers
	reads  api.ReadModel
	events api.EventQuerier
	images api.ImageSource
	tokens Tokens
	log    *slog.Logger
	now    func() time.Time
	pages  map[string]*template.Template
	// changes is Events when the store signals new events (awaitRegrade).
	changes    storeChanges
	sessionTTL time.Duration
	imports    *api.Admission
}

// New checks the configuration and parses the templates.
func New(cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Imports == nil {
		cfg.Imports = api.NewAdmission(api.DefaultMaxConcurrentImports)
	}
	h := &Handler{cmd: cfg.Commands, reads: cfg.Reads, events: cfg.Events, images: cfg.Images, tokens: cfg.Tokens,
		log: cfg.Log, now: cfg.Now, sessionTTL: cfg.SessionTTL, imports: cfg.Imports}
	h.changes, _ = cfg.Events.(storeChanges)
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	h.pages = pages
	return h, nil
}

// Routes registers every /admin route on r.
func (h *Handler) Routes(r *gin.Engine) {
	static, _ := fs.Sub(staticFS, "static")
	r.GET("/admin", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, "/admin/") })
	g := r.Group("/admin", securityHeaders)
	// The two assets by name: no directory listing.
	for _, name := range []string{"admin.css", "admin.js", "monitor.js"} {
		g.StaticFileFS("/static/"+name, name, http.FS(static))
	}
	g.GET("/login", h.loginPage)
	g.POST("/login", h.bodyLimit(64<<10), h.login)

	s := g.Group("", h.bodyLimit(maxFormBytes), h.session, h.csrf)
	s.POST("/logout", h.logout)
	s.GET("/", h.dashboard)

	s.GET("/users", h.listUsers)
	s.GET("/users/new", h.newUserPage)
	s.GET("/users/import", h.rosterPage)
	s.POST("/users/import/preview", h.rosterPreview)
	s.POST("/users/import", h.rosterConfirm)
	s.GET("/users/export", h.exportUsers)
	s.POST("/users", h.createUser)
	s.GET("/users/:id", h.userPage)
	s.POST("/users/:id", h.updateUser)
	s.POST("/users/:id/password", h.resetPassword)
	s.POST("/users/:id/active", h.setActive)
	s.GET("/levels", h.levelsPage)
	s.POST("/levels", h.createLevel)

	s.GET("/exams", h.listExams)
	s.GET("/exams/new", h.newExamPage)
	s.POST("/exams", h.createExam)
	s.GET("/exams/:id", h.examPage)
	s.GET("/exams/:id/edit", h.editExamPage)
	s.POST("/exams/:id", h.updateExam)
	s.POST("/exams/:id/publish", h.publishExam)
	s.POST("/exams/:id/close", h.closeExam)
	s.GET("/exams/:id/questions/new", h.newQuestionPage)
	s.POST("/exams/:id/questions", h.addQuestion)
	s.POST("/exams/:id/questions/import", h.importQuestions)
	s.GET("/exams/:id/questions/export", h.exportQuestions)
	s.GET("/exams/:id/questions/:qid", h.questionPage)
	s.POST("/exams/:id/questions/:qid", h.updateQuestion)
	s.POST("/exams/:id/questions/:qid/delete", h.removeQuestion)
	s.GET("/exams/:id/questions/:qid/key", h.keyPage)
	s.POST("/exams/:id/questions/:qid/key/preview", h.keyPreview)
	s.POST("/exams/:id/questions/:qid/key/confirm", h.keyConfirm)
	s.GET("/exams/:id/results", h.resultsPage)
	s.GET("/exams/:id/results/export", h.exportResults)
	s.POST("/exams/:id/results/import", h.importResults)
	s.GET("/exams/:id/audit", h.auditPage)
	s.GET("/exams/:id/stats", h.statsPage)
	s.GET("/exams/:id/monitor", h.monitorPage)
	s.GET("/exams/:id/monitor/events", h.monitorEvents)
	s.POST("/exams/:id/accommodations/:sid", h.giveTime)
	s.GET("/images/:id", h.image)
}

// maxFormBytes bounds a form post (the largest is a results file of 5 MiB).
const maxFormBytes = 6 << 20

// securityHeaders: a strict CSP and no caching of pages that hold data.
func securityHeaders(c *gin.Context) {
	hd := c.Writer.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	if strings.HasPrefix(c.Request.URL.Path, "/admin/static/") {
		hd.Set("Cache-Control", "public, max-age=300")
	} else {
		hd.Set("Cache-Control", "no-store")
	}
	c.Next()
}

func (h *Handler) bodyLimit(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		}
		c.Next()
	}
}

// --- CSRF ---

const csrfField = "csrf_token"

// csrfToken binds a form to a cookie only this browser holds: the session
// cookie or, on the login page, the pre-session cookie. The cookie is the
// HMAC key, so the token (which pages show) does not reveal it.
func csrfToken(cookie string) string {
	m := hmac.New(sha256.New, []byte(cookie))
	m.Write([]byte("examhall-admin-csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func validCSRF(cookie, got string) bool {
	if cookie == "" || got == "" {
		return false
	}
	return hmac.Equal([]byte(csrfToken(cookie)), []byte(got))
}

// csrf refuses a state-changing request whose form lacks the session's
// token, before anything else reads the form.
func (h *Handler) csrf(c *gin.Context) {
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		c.Next()
		return
	}
	if strings.HasPrefix(c.ContentType(), "multipart/form-data") {
		if err := c.Request.ParseMultipartForm(1 << 20); err != nil {
			h.fail(c, http.StatusBadRequest, "The form could not be read.")
			return
		}
	}
	if !validCSRF(sessionFrom(c).cookie, c.PostForm(csrfField)) {
		h.log.Warn("admin: refused a form without a valid CSRF token", "request_id", api.RequestIDFrom(c), "path", c.Request.URL.Path)
		h.fail(c, http.StatusForbidden, "This form has expired or did not come from this site. Reload the page and try again.")
		return
	}
	c.Next()
}

// --- rendering ---

// page is what every template gets.
type page struct {
	Title  string
	User   *domain.User
	CSRF   string
	Flash  string
	Error  string
	Fields map[string]string
	Nav    string
	Data   any
}

func (p page) IsAdmin() bool { return p.User != nil && p.User.Role == domain.RoleAdmin }

func (h *Handler) render(c *gin.Context, status int, name string, p page) {
	t, ok := h.pages[name]
	if !ok {
		h.log.Error("admin: no such template", "template", name)
		c.String(http.StatusInternalServerError, "internal error")
		return
	}
	if s := sessionFrom(c); s != nil {
		p.User = s.user
		p.CSRF = csrfToken(s.cookie)
	}
	if p.Flash == "" {
		p.Flash = flashes[c.Query("ok")]
	}
	c.Status(status)
	c.Header("Content-Type", "text/html; charset=utf-8")
	if err := t.ExecuteTemplate(c.Writer, "layout", p); err != nil {
		h.log.Error("admin: render", "template", name, "request_id", api.RequestIDFrom(c), "err", err)
	}
}

// flashes are the messages a redirect may ask for (?ok=code): a fixed set,
// so a link cannot make the page say anything else.
var flashes = map[string]string{
	"user_created":     "User created.",
	"user_saved":       "User saved.",
	"password_reset":   "Password reset.",
	"user_deactivated": "User deactivated.",
	"user_activated":   "User activated.",
	"level_created":    "Level created.",
	"exam_created":     "Exam created.",
	"exam_saved":       "Exam saved.",
	"question_added":   "Question added.",
	"question_saved":   "Question saved.",
	"question_removed": "Question removed.",
	"published":        "Exam published.",
	"closed":           "Exam closed: it is being graded.",
	"regraded":         "Answer key corrected and the exam regraded.",
	"time_given":       "Extra time saved: it applies at once.",
}

// fail renders the error page.
func (h *Handler) fail(c *gin.Context, status int, msg string) {
	h.render(c, status, "error.html", page{Title: http.StatusText(status), Error: msg})
	c.Abort()
}

// failErr maps a command or query error to the error page, the way the
// API maps it to a status.
func (h *Handler) failErr(c *gin.Context, err error) {
	ae, ok := api.ErrorFor(err)
	if !ok || ae.Status >= 500 {
		if !errors.Is(err, context.Canceled) {
			h.log.Error("admin: request failed", "request_id", api.RequestIDFrom(c), "path", c.Request.URL.Path, "err", err)
		}
		h.fail(c, http.StatusInternalServerError, "Something went wrong. Try again in a moment.")
		return
	}
	h.fail(c, ae.Status, ae.Message)
}

// fieldErrors extracts a validation error's fields (nil if it is not one).
func fieldErrors(err error) map[string]string {
	var v *domain.ValidationError
	if errors.As(err, &v) {
		return v.Fields
	}
	return nil
}

// formError renders a form again with what was wrong, or the error page
// when the error is not about the form.
func (h *Handler) formError(c *gin.Context, err error, name string, p page) {
	if f := fieldErrors(err); f != nil {
		p.Fields = f
		p.Error = "Please correct the highlighted fields."
		h.render(c, http.StatusBadRequest, name, p)
		return
	}
	if ae, ok := api.ErrorFor(err); ok && ae.Status < 500 && ae.Status != http.StatusForbidden && ae.Status != http.StatusNotFound {
		p.Error = ae.Message
		h.render(c, ae.Status, name, p)
		return
	}
	h.failErr(c, err)
}

// meta is the command context of a request: the session's actor and the
// request's id.
func (h *Handler) meta(c *gin.Context) commands.Meta {
	return commands.Meta{Actor: sessionFrom(c).user.Actor(), RequestID: api.RequestIDFrom(c)}
}

func (h *Handler) actor(c *gin.Context) domain.Actor { return sessionFrom(c).user.Actor() }

// requireAdmin refuses doctors a page only admins may use.
func (h *Handler) requireAdmin(c *gin.Context) bool {
	if h.actor(c).Role != domain.RoleAdmin {
		h.fail(c, http.StatusForbidden, "Only administrators may use this page.")
		return false
	}
	return true
}

func (h *Handler) dashboard(c *gin.Context) {
	ctx := c.Request.Context()
	exams, _, err := h.reads.ListExams(ctx, examFilter(h.actor(c), "", 10))
	if err != nil {
		h.failErr(c, err)
		return
	}
	h.render(c, http.StatusOK, "dashboard.html", page{Title: "Dashboard", Nav: "home", Data: exams})
}
