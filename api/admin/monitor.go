package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/examhall/exam/api"
	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
)

type monitorData struct {
	Exam    *domain.Exam
	Monitor api.MonitorView
}

// monitorPage: the invigilator's monitor, rendered in full (it works
// without script); monitor.js then follows the stream and updates rows.
func (h *Handler) monitorPage(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	v, err := api.Monitor(c.Request.Context(), h.cmd, h.reads, e)
	if err != nil {
		h.failErr(c, err)
		return
	}
	h.render(c, http.StatusOK, "monitor.html", page{Title: "Monitor: " + e.Title, Nav: "exams", Data: monitorData{Exam: e, Monitor: v}})
}

// monitorEvents streams the monitor's rows (the API's stream, under the
// admin session).
func (h *Handler) monitorEvents(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	api.StreamMonitor(c, h.cmd, h.reads, e.ID)
}

// giveTime sets a student's extra time (minutes in the form) from the
// monitor's row; 0 removes the accommodation.
func (h *Handler) giveTime(c *gin.Context) {
	e, ok := h.managedExam(c)
	if !ok {
		return
	}
	back := "/admin/exams/" + url.PathEscape(e.ID) + "/monitor"
	minutes, err := strconv.Atoi(strings.TrimSpace(c.PostForm("extra_minutes")))
	if err != nil || minutes < 0 || minutes > domain.MaxExtraSeconds/60 {
		h.fail(c, http.StatusBadRequest, "Extra time must be a whole number of minutes, 0 or more.")
		return
	}
	sid := c.Param("sid")
	if minutes == 0 {
		_, err = h.cmd.RemoveAccommodation.Handle(c.Request.Context(), h.meta(c), e.ID, sid)
	} else {
		mult := 1.0
		if acc, ok := e.AccommodationFor(sid); ok {
			mult = acc.TimeMultiplier // keep a multiplier given through the API
		}
		_, err = h.cmd.SetAccommodation.Handle(c.Request.Context(), h.meta(c), e.ID, sid, minutes*60, mult)
	}
	if err != nil {
		h.failErr(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, back+"?ok=time_given")
}
