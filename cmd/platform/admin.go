package platform

import (
	"log/slog"
	"time"

	"github.com/examhall/exam/api"
	"github.com/examhall/exam/api/admin"
	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/commands"
	"github.com/gin-gonic/gin"
)

// adminWiring is what the web admin gets from the platform.
type adminWiring struct {
	Commands *commands.Handlers
	Reads    api.ReadModel
	Events   api.EventQuerier
	Images   api.ImageSource
	Tokens   *auth.TokenIssuer
	Log      *slog.Logger
	// Now is the platform's clock (optional; sessions are stamped with it).
	Now func() time.Time
	// Imports is the API's cap on concurrent file imports.
	Imports *api.Admission
}

// adminRoutes registers the web admin (/admin/) on the API's engine. A
// wiring that cannot build the admin is logged and leaves the API alone.
func adminRoutes(w adminWiring) func(r *gin.Engine) {
	cfg := admin.Config{Commands: w.Commands, Reads: w.Reads, Events: w.Events, Images: w.Images, Log: w.Log, Now: w.Now, Imports: w.Imports}
	if w.Tokens != nil {
		cfg.Tokens = w.Tokens
	}
	h, err := admin.New(cfg)
	if err != nil {
		if w.Log == nil {
			w.Log = slog.Default()
		}
		w.Log.Error("web admin disabled", "err", err)
		return nil
	}
	return h.Routes
}
