// Package room is the students' exam room served by examd at /exam/: a
// single page (embedded HTML, CSS and vanilla JavaScript, no build step)
// over the JSON API.
//
// Auth: the page signs in with POST /api/v1/auth/login and keeps the access
// and refresh tokens in the tab's sessionStorage (they survive a reload and
// a restored tab, not a new tab), sending them as `Authorization: Bearer`.
// No cookie is ever set, so a page of another site cannot make the browser
// send a credential and the page needs no CSRF token.
//
// Nothing lost: every change is queued in localStorage (per student and
// exam) with its own Idempotency-Key before it is sent, and the queue is
// replayed in order whenever the network returns, so a reload, a crash of
// the tab or a replica going away loses nothing and a replay never records a
// change twice. A service worker keeps the page's own files so it reloads
// while offline; the exam document (never holding answer keys before
// grading) and the last attempt state are kept too.
//
// Pages are sent with a strict Content-Security-Policy: no inline script or
// style; values are put in the page as text (textContent), never as HTML.
package room

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/gin-gonic/gin"
)

//go:embed static
var staticFS embed.FS

// Path is where the exam room is served.
const Path = "/exam/"

// ContentSecurityPolicy is sent with every exam room response. Images are
// fetched with the student's token and shown from blob: URLs.
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'; worker-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; " +
	"base-uri 'none'; object-src 'none'"

// assets are the files served, by name: no directory listing.
var assets = map[string]string{
	"room.js":  "text/javascript; charset=utf-8",
	"room.css": "text/css; charset=utf-8",
	"sw.js":    "text/javascript; charset=utf-8",
}

// Routes registers the exam room on r.
func Routes(r *gin.Engine) {
	static, _ := fs.Sub(staticFS, "static")
	r.GET("/exam", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, Path) })
	g := r.Group("/exam", securityHeaders)
	g.GET("/", func(c *gin.Context) { serve(c, static, "index.html", "text/html; charset=utf-8") })
	for name, ctype := range assets {
		g.GET("/"+name, func(c *gin.Context) { serve(c, static, name, ctype) })
	}
}

func serve(c *gin.Context, static fs.FS, name, ctype string) {
	b, err := fs.ReadFile(static, name)
	if err != nil {
		c.Status(http.StatusNotFound)
		return
	}
	c.Data(http.StatusOK, ctype, b)
}

// securityHeaders: a strict CSP. The page's files are revalidated on every
// load (no-cache), so a new release reaches students at their next load;
// the service worker falls back to its copy only when the network is away.
func securityHeaders(c *gin.Context) {
	hd := c.Writer.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache")
	c.Next()
}
