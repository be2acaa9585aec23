package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/projections"
	"github.com/gin-gonic/gin"
)

// MonitorRow is one student on the invigilator's monitor.
type MonitorRow struct {
	StudentID    string     `json:"student_id"`
	Email        string     `json:"email"`
	FullName     string     `json:"full_name"`
	Status       string     `json:"status"` // not_started, in_progress, submitted, timed_out
	Answered     int        `json:"answered"`
	Deadline     *time.Time `json:"deadline"`
	ExtraSeconds int        `json:"extra_seconds"`
	LastSavedAt  *time.Time `json:"last_saved_at"`
}

// MonitorView is GET /exams/{id}/monitor.
type MonitorView struct {
	ExamID   string       `json:"exam_id"`
	Status   string       `json:"status"`
	Now      time.Time    `json:"now"`
	Students []MonitorRow `json:"students"`
}

// monitorPage bounds one read of the level's students.
const monitorPage = 500

// Monitor builds the monitor of an exam: every active student of its level
// with their attempt as the event store has it (the attempt streams, not a
// read model, so a save shows at once on every replica). The web admin
// serves the same rows.
func Monitor(ctx context.Context, cmd *commands.Handlers, reads ReadModel, e *domain.Exam) (MonitorView, error) {
	now := cmd.Now()
	v := MonitorView{ExamID: e.ID, Status: string(e.Status), Now: now.UTC(), Students: []MonitorRow{}}
	after := ""
	for {
		users, more, err := reads.ListUsers(ctx, projections.UserFilter{Role: domain.RoleStudent, LevelID: e.LevelID, AfterID: after, Limit: monitorPage})
		if err != nil {
			return MonitorView{}, err
		}
		for _, u := range users {
			if !u.Active {
				continue
			}
			t, err := cmd.Repo.LoadAttempt(ctx, e.ID, u.ID)
			if err != nil {
				return MonitorView{}, err
			}
			v.Students = append(v.Students, monitorRow(e, u, t, now))
		}
		if !more || len(users) == 0 {
			return v, nil
		}
		after = users[len(users)-1].Email
	}
}

func monitorRow(e *domain.Exam, u *domain.User, t *domain.Attempt, now time.Time) MonitorRow {
	acc, _ := e.AccommodationFor(u.ID)
	r := MonitorRow{StudentID: u.ID, Email: u.Email, FullName: u.FullName, Status: "not_started", ExtraSeconds: acc.ExtraSeconds}
	if !t.Started() {
		return r
	}
	r.Deadline = utc(t.DeadlineIn(e))
	for _, a := range t.CurrentAnswers() {
		if len(a.Choices) > 0 {
			r.Answered++
		}
	}
	for _, h := range t.History {
		if r.LastSavedAt == nil || h.SavedAt.After(*r.LastSavedAt) {
			s := h.SavedAt.UTC()
			r.LastSavedAt = &s
		}
	}
	switch {
	case t.Status == domain.AttemptSubmittedS:
		r.Status = "submitted"
	case r.Deadline != nil && !now.Before(*r.Deadline),
		e.Status == domain.StatusClosed || e.Status == domain.StatusGraded:
		r.Status = "timed_out"
	default:
		r.Status = "in_progress"
	}
	return r
}

// getMonitor: GET /exams/{id}/monitor (owning doctor, admin).
func (s *Server) getMonitor(c *gin.Context) {
	e, ok := s.managedExam(c)
	if !ok {
		return
	}
	v, err := Monitor(c.Request.Context(), s.cmd, s.reads, e)
	if err != nil {
		Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// MonitorInterval is how often the monitor's stream looks for changes.
const MonitorInterval = time.Second

// StreamMonitor writes the monitor as Server-Sent Events until the client
// goes away: first every row, then each row that changed ("student"
// events, data: a MonitorRow), and the exam's status when it changes
// ("exam" events). It reads the store every MonitorInterval, so it follows
// saves made on any replica; a comment line every 15 s keeps proxies from
// closing an idle stream.
func StreamMonitor(c *gin.Context, cmd *commands.Handlers, reads ReadModel, examID string) {
	ctx := c.Request.Context()
	w := c.Writer
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// The server's WriteTimeout would cut a long stream: each write gets
	// its own deadline instead (a client that reconnects gets every row
	// again, so a cut loses nothing either).
	rc := http.NewResponseController(w)
	last := map[string]string{}
	lastStatus := ""
	tick := time.NewTicker(MonitorInterval)
	defer tick.Stop()
	idle := time.Now()
	for {
		e, err := cmd.Repo.LoadExam(ctx, examID)
		if err != nil {
			return
		}
		v, err := Monitor(ctx, cmd, reads, e)
		if err != nil {
			return
		}
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		sent := false
		if v.Status != lastStatus {
			lastStatus = v.Status
			b, _ := json.Marshal(gin.H{"exam_id": v.ExamID, "status": v.Status, "now": v.Now})
			fmt.Fprintf(w, "event: exam\ndata: %s\n\n", b)
			sent = true
		}
		for _, r := range v.Students {
			b, _ := json.Marshal(r)
			if last[r.StudentID] == string(b) {
				continue
			}
			last[r.StudentID] = string(b)
			fmt.Fprintf(w, "event: student\nid: %s\ndata: %s\n\n", r.StudentID, b)
			sent = true
		}
		if !sent && time.Since(idle) > 15*time.Second {
			fmt.Fprint(w, ": keep-alive\n\n")
			sent = true
		}
		if sent {
			idle = time.Now()
			w.Flush()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// monitorEvents: GET /exams/{id}/monitor/events.
func (s *Server) monitorEvents(c *gin.Context) {
	e, ok := s.managedExam(c)
	if !ok {
		return
	}
	StreamMonitor(c, s.cmd, s.reads, e.ID)
}
