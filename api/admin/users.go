package admin

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/projections"
	"github.com/gin-gonic/gin"
)

const usersPageSize = 25

type usersData struct {
	Users      []*domain.User
	Levels     []domain.Level
	LevelNames map[string]string
	Role       string
	Level      string
	Query      string
	Next       string // the query string of the next page, "" on the last
}

func (h *Handler) levelNames(ctx context.Context) (map[string]string, []domain.Level, error) {
	levels, err := h.reads.Levels(ctx)
	if err != nil {
		return nil, nil, err
	}
	names := make(map[string]string, len(levels))
	for _, l := range levels {
		names[l.ID] = l.Name
	}
	return names, levels, nil
}

func (h *Handler) listUsers(c *gin.Context) {
	if !h.requireAdmin(c) {
		return
	}
	ctx := c.Request.Context()
	d := usersData{Role: c.Query("role"), Level: c.Query("level"), Query: strings.TrimSpace(c.Query("q"))}
	f := projections.UserFilter{Role: domain.Role(d.Role), LevelID: d.Level, Search: d.Query, AfterID: c.Query("after"), Limit: usersPageSize}
	users, more, err := h.reads.ListUsers(ctx, f)
	if err != nil {
		h.failErr(c, err)
		return
	}
	d.Users = users
	if more && len(users) > 0 {
		q := url.Values{"role": {d.Role}, "level": {d.Level}, "q": {d.Query}, "after": {users[len(users)-1].ID}}
		d.Next = "/admin/users?" + q.Encode()
	}
	if d.LevelNames, d.Levels, err = h.levelNames(ctx); err != nil {
		h.failErr(c, err)
		return
	}
	h.render(c, http.StatusOK, "users.html", page{Title: "Users", Nav: "users", Data: d})
}

// userForm is the user create/edit form.
type userForm struct {
	User     *domain.User // nil when creating
	Email    string
	FullName string
	Role     string
	LevelID  string
	IDNumber string
	Subject  string
	Levels   []domain.Level
}

func (h *Handler) newUserPage(c *gin.Context) {
	if !h.requireAdmin(c) {
		return
	}
	_, levels, err := h.levelNames(c.Request.Context())
	if err != nil {
		h.failErr(c, err)
		return
	}
	h.render(c, http.StatusOK, "user_form.html", page{Title: "New user", Nav: "users",
		Data: userForm{Role: c.DefaultQuery("role", "student"), Levels: levels}})
}

func (h *Handler) createUser(c *gin.Context) {
	if !h.requireAdmin(c) {
		return
	}
	ctx := c.Request.Context()
	f := userForm{Email: c.PostForm("email"), FullName: c.PostForm("full_name"), Role: c.PostForm("role"),
		LevelID: c.PostForm("level_id"), IDNumber: c.PostForm("id_number"), Subject: c.PostForm("subject")}
	res, err := h.cmd.RegisterUser.Handle(ctx, h.meta(c), domain.RegisterInput{Email: f.Email, Password: c.PostForm("password"),
		FullName: f.FullName, Role: domain.Role(f.Role), LevelID: f.LevelID, IDNumber: f.IDNumber, Subject: f.Subject})
	if err != nil {
		_, f.Levels, _ = h.levelNames(ctx)
		h.formError(c, err, "user_form.html", page{Title: "New user", Nav: "users", Data: f})
		return
	}
	// The list reads the directory: wait briefly so the new user is on it.
	h.await(ctx, func(ctx context.Context) bool {
		_, ok, err := h.reads.User(ctx, res.User.ID)
		return err == nil && ok
	})
	c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(res.User.ID)+"?ok=user_created")
}

func (h *Handler) loadUser(c *gin.Context) (*domain.User, bool) {
	u, err := h.cmd.Repo.LoadUser(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.failErr(c, err)
		return nil, false
	}
	if !u.Exists() {
		h.fail(c, http.StatusNotFound, "No such user.")
		return nil, false
	}
	return u, true
}

func (h *Handler) userPage(c *gin.Context) {
	if !h.requireAdmin(c) {
		return
	}
	u, ok := h.loadUser(c)
	if !ok {
		return
	}
	h.renderUser(c, http.StatusOK, u, nil, "")
}

func (h *Handler) renderUser(c *gin.Context, status int, u *domain.User, fields map[string]string, msg string) {
	_, levels, err := h.levelNames(c.Request.Context())
	if err != nil {
		h.failErr(c, err)
		return
	}
	f := userForm{User: u, Email: u.Email, FullName: u.FullName, Role: string(u.Role), LevelID: u.LevelID, IDNumber: u.IDNumber,
		Subject: u.Subject, Levels: levels}
	h.render(c, status, "user_form.html", page{Title: "User " + u.Email, Nav: "users", Fields: fields, Error: msg, Data: f})
}

func (h *Handler) updateUser(c *gin.Context) {
	if !h.requireAdmin(c) {
		return
	}
	u, ok := h.loadUser(c)
	if !ok {
		return
	}
	str := func(name string) *string { v := strings.TrimSpace(c.PostForm(name)); return &v }
	patch := domain.UserPatch{FullName: str("full_name"), IDNumber: str("id_number"), Subject: str("subject")}
	if u.Role == domain.RoleStudent {
		patch.LevelID = str("level_id")
	}
	if _, err := h.cmd.UpdateUser.Handle(c.Request.Context(), h.meta(c), commands.UpdateUserInput{UserID: u.ID, Patch: patch}); err != nil {
		if f := fieldErrors(err); f != nil {
			h.renderUser(c, http.StatusBadRequest, u, f, "Please correct the highlighted fields.")
			return
		}
		h.failErr(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(u.ID)+"?ok=user_saved")
}

func (h *Handler) resetPassword(c *gin.Context) {
	if !h.requireAdmin(c) {
		return
	}
	u, ok := h.loadUser(c)
	if !ok {
		return
	}
	pw := c.PostForm("password")
	if _, err := h.cmd.UpdateUser.Handle(c.Request.Context(), h.meta(c), commands.UpdateUserInput{UserID: u.ID, Password: &pw}); err != nil {
		if f := fieldErrors(err); f != nil {
			h.renderUser(c, http.StatusBadRequest, u, f, "The password was not changed.")
			return
		}
		h.failErr(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(u.ID)+"?ok=password_reset")
}

func (h *Handler) setActive(c *gin.Context) {
	if !h.requireAdmin(c) {
		return
	}
	u, ok := h.loadUser(c)
	if !ok {
		return
	}
	active := c.PostForm("active") == "true"
	if u.ID == h.actor(c).ID && !active {
		h.fail(c, http.StatusConflict, "You cannot deactivate your own account.")
		return
	}
	if _, err := h.cmd.UpdateUser.Handle(c.Request.Context(), h.meta(c), commands.UpdateUserInput{UserID: u.ID,
		Patch: domain.UserPatch{Active: &active}}); err != nil {
		h.failErr(c, err)
		return
	}
	flash := "user_deactivated"
	if active {
		flash = "user_activated"
	}
	c.Redirect(http.StatusSeeOther, "/admin/users/"+url.PathEscape(u.ID)+"?ok="+flash)
}

func (h *Handler) levelsPage(c *gin.Context) {
	if !h.requireAdmin(c) {
		return
	}
	_, levels, err := h.levelNames(c.Request.Context())
	if err != nil {
		h.failErr(c, err)
		return
	}
	h.render(c, http.StatusOK, "levels.html", page{Title: "Levels", Nav: "levels", Data: levels})
}

func (h *Handler) createLevel(c *gin.Context) {
	if !h.requireAdmin(c) {
		return
	}
	ctx := c.Request.Context()
	res, err := h.cmd.CreateLevel.Handle(ctx, h.meta(c), c.PostForm("name"))
	if err != nil {
		_, levels, _ := h.levelNames(ctx)
		h.formError(c, err, "levels.html", page{Title: "Levels", Nav: "levels", Data: levels})
		return
	}
	// The list reads the directory, which follows the store closely: wait
	// briefly so the new level is on the page the redirect shows.
	h.await(ctx, func(ctx context.Context) bool {
		names, _, err := h.levelNames(ctx)
		return err == nil && names[res.Level.ID] != ""
	})
	c.Redirect(http.StatusSeeOther, "/admin/levels?ok=level_created")
}

// await polls cond for up to two seconds (read models catching up).
func (h *Handler) await(ctx context.Context, cond func(context.Context) bool) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for {
		if cond(ctx) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
}
