package api

import (
	"net/http"

	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/projections"
	"github.com/gin-gonic/gin"
)

type createLevelRequest struct {
	Name string `json:"name"`
}

func (s *Server) createLevel(c *gin.Context) {
	if !requireRole(c, domain.RoleAdmin) {
		return
	}
	var req createLevelRequest
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return
	}
	m := s.meta(c)
	res, err := s.cmd.CreateLevel.Handle(c.Request.Context(), m, req.Name)
	if err != nil {
		Abort(c, err)
		return
	}
	setPosition(c, res.Position)
	c.JSON(http.StatusCreated, viewLevel(res.Level))
}

func (s *Server) listLevels(c *gin.Context) {
	page, err := ParsePage(c)
	if err != nil {
		Abort(c, err)
		return
	}
	levels, err := s.reads.Levels(c.Request.Context())
	if err != nil {
		Abort(c, err)
		return
	}
	after, err := DecodeCursor(page.Cursor)
	if err != nil {
		Abort(c, err)
		return
	}
	items := make([]levelView, 0, len(levels))
	next := ""
	for _, l := range levels {
		if after != "" && l.Name+"\x00"+l.ID <= after {
			continue
		}
		if len(items) == page.Limit {
			last := items[len(items)-1]
			next = EncodeCursor(last.Name + "\x00" + last.ID)
			break
		}
		items = append(items, viewLevel(l))
	}
	c.JSON(http.StatusOK, NewListResponse(items, next))
}

type createUserRequest struct {
	Email    string   `json:"email"`
	Password string   `json:"password"`
	FullName string   `json:"full_name"`
	Role     string   `json:"role"`
	LevelID  string   `json:"level_id"`
	IDNumber idNumber `json:"id_number"`
	Subject  string   `json:"subject"`
}

func (s *Server) createUser(c *gin.Context) {
	if !requireRole(c, domain.RoleAdmin) {
		return
	}
	var req createUserRequest
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return
	}
	m := s.meta(c)
	res, err := s.cmd.RegisterUser.Handle(c.Request.Context(), m, domain.RegisterInput{
		Email: req.Email, Password: req.Password, FullName: req.FullName, Role: domain.Role(req.Role),
		LevelID: req.LevelID, IDNumber: string(req.IDNumber), Subject: req.Subject,
	})
	if err != nil {
		Abort(c, err)
		return
	}
	setPosition(c, res.Position)
	c.JSON(http.StatusCreated, viewUser(res.User))
}

func (s *Server) listUsers(c *gin.Context) {
	if !requireRole(c, domain.RoleAdmin) {
		return
	}
	page, err := ParsePage(c)
	if err != nil {
		Abort(c, err)
		return
	}
	after, err := DecodeCursor(page.Cursor)
	if err != nil {
		Abort(c, err)
		return
	}
	role := domain.Role(c.Query("role"))
	if role != "" && !role.Valid() {
		Abort(c, validationFailed(map[string]string{"role": `must be one of "admin", "doctor", "student"`}))
		return
	}
	users, more, err := s.reads.ListUsers(c.Request.Context(), projections.UserFilter{
		Role: role, LevelID: c.Query("level_id"), Search: c.Query("q"), AfterID: after, Limit: page.Limit})
	if err != nil {
		Abort(c, err)
		return
	}
	items := make([]userView, 0, len(users))
	for _, u := range users {
		items = append(items, viewUser(u))
	}
	next := ""
	if more && len(users) > 0 {
		next = EncodeCursor(users[len(users)-1].Email)
	}
	c.JSON(http.StatusOK, NewListResponse(items, next))
}

func (s *Server) getUser(c *gin.Context) {
	if !requireRole(c, domain.RoleAdmin) {
		return
	}
	u, err := s.lookupUser(c.Request.Context(), c.Param("id"))
	if err != nil || u == nil {
		Abort(c, orNotFound(err))
		return
	}
	c.JSON(http.StatusOK, viewUser(u))
}

type patchUserRequest struct {
	FullName *string   `json:"full_name"`
	LevelID  *string   `json:"level_id"`
	Active   *bool     `json:"active"`
	Password *string   `json:"password"`
	Subject  *string   `json:"subject"`
	IDNumber *idNumber `json:"id_number"`
}

func (s *Server) patchUser(c *gin.Context) {
	if !requireRole(c, domain.RoleAdmin) {
		return
	}
	var req patchUserRequest
	if err := DecodeJSON(c, &req); err != nil {
		Abort(c, err)
		return
	}
	m := s.meta(c)
	if req.Active != nil && !*req.Active && c.Param("id") == m.Actor.ID {
		Abort(c, validationFailed(map[string]string{"active": "admins cannot deactivate themselves"}))
		return
	}
	res, err := s.cmd.UpdateUser.Handle(c.Request.Context(), m, commands.UpdateUserInput{
		UserID:   c.Param("id"),
		Patch:    domain.UserPatch{FullName: req.FullName, LevelID: req.LevelID, Active: req.Active, IDNumber: req.IDNumber.ptr(), Subject: req.Subject},
		Password: req.Password,
	})
	if err != nil {
		Abort(c, err)
		return
	}
	setPosition(c, res.Position)
	c.JSON(http.StatusOK, viewUser(res.User))
}
