package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
)

const actorKey = "actor"

// authenticate verifies the bearer access token and loads the user it
// names. Role and level come from the user's current record (its stream,
// not the read model, which may lag), never from the request, and a
// deactivated user, or a token older than the user's last password change
// or sign-out everywhere, is refused at once.
func (s *Server) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		Abort(c, NewAPIError(http.StatusUnauthorized, "unauthenticated", "missing bearer token"))
		return
	}
	claims, err := s.tokens.ParseAccess(strings.TrimSpace(token))
	if err != nil {
		Abort(c, NewAPIError(http.StatusUnauthorized, "unauthenticated", "invalid or expired token"))
		return
	}
	u, err := s.currentUser(c.Request.Context(), claims.UserID)
	if err != nil {
		Abort(c, err)
		return
	}
	// A deactivation, a password change or a sign-out everywhere moved the
	// user's session epoch: older tokens are over.
	if u == nil || !u.SessionValid(claims.Epoch) {
		Abort(c, NewAPIError(http.StatusUnauthorized, "unauthenticated", "invalid or expired token"))
		return
	}
	c.Set(actorKey, u.Actor())
	c.Set("user_id", u.ID)
	c.Next()
}

// currentUser folds the user from its own stream (cached, reading only
// newer events), so a deactivation or a change of level applies to the very
// next request, whatever the lag of the read models. nil: no such user.
func (s *Server) currentUser(ctx context.Context, id string) (*domain.User, error) {
	u, err := s.cmd.Repo.LoadUser(ctx, id)
	if err != nil {
		return nil, err
	}
	if !u.Exists() {
		return nil, nil
	}
	return u, nil
}

// lookupUser reads the user directory, falling back to the user's stream
// when the directory has not caught up (a user who was just created).
func (s *Server) lookupUser(ctx context.Context, id string) (*domain.User, error) {
	u, ok, err := s.reads.User(ctx, id)
	if err == nil && ok {
		return u, nil
	}
	u, lerr := s.cmd.Repo.LoadUser(ctx, id)
	if lerr != nil {
		return nil, errors.Join(err, lerr)
	}
	if !u.Exists() {
		return nil, nil
	}
	return u, nil
}

func actorFrom(c *gin.Context) domain.Actor {
	a, _ := c.Get(actorKey)
	actor, _ := a.(domain.Actor)
	return actor
}

// requireRole refuses actors without one of the roles.
func requireRole(c *gin.Context, roles ...domain.Role) bool {
	a := actorFrom(c)
	for _, r := range roles {
		if a.Role == r {
			return true
		}
	}
	Abort(c, domain.ErrForbidden)
	return false
}
