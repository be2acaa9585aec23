package api

import (
	"net/http"
	"time"

	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// DeviceToken is the device_token of an earlier login on this client.
	DeviceToken string `json:"device_token"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

type verifyRequest struct {
	Token string `json:"token"`
}

type tokenResponse struct {
	AccessToken  string   `json:"access_token"`
	RefreshToken string   `json:"refresh_token"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    int      `json:"expires_in"`
	User         userView `json:"user"`
	// DeviceToken (login only) marks this client as one that logged in
	// before: sent back with the next login, it keeps the account's
	// lockout from applying to it (see docs/operations.md).
	DeviceToken string `json:"device_token,omitempty"`
}

// tokensView reports expires_in as the access lifetime (Config.AccessTTL):
// measuring the token's expiry against the wall clock would mix clocks, as
// the token was issued on the platform's injected one.
func tokensView(t commands.Tokens, accessTTL time.Duration) tokenResponse {
	return tokenResponse{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: "Bearer",
		ExpiresIn: int(accessTTL.Round(time.Second).Seconds()), User: viewUser(t.User), DeviceToken: t.DeviceToken}
}

func required(fields map[string]string, name, value string) {
	if value == "" {
		fields[name] = "is required"
	}
}

func (s *Server) login(c *gin.Context) {
	var req loginRequest
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return
	}
	fields := map[string]string{}
	required(fields, "email", req.Email)
	required(fields, "password", req.Password)
	if len(fields) > 0 {
		Abort(c, validationFailed(fields))
		return
	}
	t, err := s.cmd.Login.HandleDevice(c.Request.Context(), commands.Meta{RequestID: RequestIDFrom(c)}, req.Email, req.Password, req.DeviceToken)
	if err != nil {
		Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, tokensView(t, s.accessTTL))
}

// refreshTokenFrom decodes {"refresh_token"} (required), or aborts.
func refreshTokenFrom(c *gin.Context) (string, bool) {
	var req refreshRequest
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return "", false
	}
	if req.RefreshToken == "" {
		Abort(c, validationFailed(map[string]string{"refresh_token": "is required"}))
		return "", false
	}
	return req.RefreshToken, true
}

func (s *Server) refresh(c *gin.Context) {
	token, ok := refreshTokenFrom(c)
	if !ok {
		return
	}
	t, err := s.cmd.Refresh.Handle(c.Request.Context(), commands.Meta{RequestID: RequestIDFrom(c)}, token)
	if err != nil {
		Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, tokensView(t, s.accessTTL))
}

func (s *Server) logout(c *gin.Context) {
	token, ok := refreshTokenFrom(c)
	if !ok {
		return
	}
	if err := s.cmd.Logout.Handle(c.Request.Context(), commands.Meta{RequestID: RequestIDFrom(c)}, token); err != nil {
		Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// verify is token introspection for other services: an invalid token, or
// one of a deactivated user, is simply inactive.
func (s *Server) verify(c *gin.Context) {
	var req verifyRequest
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return
	}
	if req.Token == "" {
		Abort(c, validationFailed(map[string]string{"token": "is required"}))
		return
	}
	claims, err := s.tokens.ParseAccess(req.Token)
	if err != nil {
		c.JSON(http.StatusOK, gin.H{"active": false})
		return
	}
	u, err := s.currentUser(c.Request.Context(), claims.UserID)
	if err != nil {
		Abort(c, err)
		return
	}
	if u == nil || !u.SessionValid(claims.Epoch) {
		c.JSON(http.StatusOK, gin.H{"active": false})
		return
	}
	c.JSON(http.StatusOK, gin.H{"active": true, "sub": u.ID, "role": string(u.Role), "exp": claims.ExpiresAt.Unix()})
}

// logoutAll ends every session of the caller ("sign out everywhere"):
// every refresh token and access token of theirs, this one included.
func (s *Server) logoutAll(c *gin.Context) {
	pos, err := s.cmd.LogoutAll.Handle(c.Request.Context(), s.meta(c))
	if err != nil {
		Abort(c, err)
		return
	}
	setPosition(c, pos)
	c.Status(http.StatusNoContent)
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword lets users change their own password. It ends every
// session of theirs, this one included: the client logs in again.
func (s *Server) changePassword(c *gin.Context) {
	var req changePasswordRequest
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return
	}
	fields := map[string]string{}
	required(fields, "current_password", req.CurrentPassword)
	required(fields, "new_password", req.NewPassword)
	if len(fields) > 0 {
		Abort(c, validationFailed(fields))
		return
	}
	pos, err := s.cmd.ChangePassword.Handle(c.Request.Context(), s.meta(c), req.CurrentPassword, req.NewPassword)
	if err != nil {
		Abort(c, err)
		return
	}
	setPosition(c, pos)
	c.Status(http.StatusNoContent)
}

func (s *Server) me(c *gin.Context) {
	u, err := s.lookupUser(c.Request.Context(), actorFrom(c).ID)
	if err != nil || u == nil {
		Abort(c, orNotFound(err))
		return
	}
	c.JSON(http.StatusOK, viewUser(u))
}

func orNotFound(err error) error {
	if err != nil {
		return err
	}
	return domain.ErrNotFound
}
