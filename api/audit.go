package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/gin-gonic/gin"
)

// auditFilter reads type, from, to, limit and cursor (a position).
func auditFilter(c *gin.Context) (eventstore.Filter, error) {
	page, err := ParsePage(c)
	if err != nil {
		return eventstore.Filter{}, err
	}
	f := eventstore.Filter{Type: c.Query("type"), Limit: page.Limit}
	fields := map[string]string{}
	if raw, err := DecodeCursor(page.Cursor); err != nil {
		return f, err
	} else if raw != "" {
		pos, perr := strconv.ParseUint(raw, 10, 64)
		if perr != nil {
			fields["cursor"] = "is not a valid cursor"
		}
		f.AfterPosition = pos
	}
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				fields[name] = "must be an RFC 3339 time"
			}
			*dst = t
		}
	}
	if len(fields) > 0 {
		return f, validationFailed(fields)
	}
	return f, nil
}

func (s *Server) writeEvents(c *gin.Context, f eventstore.Filter) {
	limit := f.Limit
	f.Limit = limit + 1
	recs, err := s.events.Query(c.Request.Context(), f)
	if err != nil {
		Abort(c, err)
		return
	}
	next := ""
	if len(recs) > limit {
		recs = recs[:limit]
		next = EncodeCursor(strconv.FormatUint(recs[len(recs)-1].Position, 10))
	}
	items := make([]eventView, 0, len(recs))
	for _, r := range recs {
		items = append(items, viewEvent(r))
	}
	c.JSON(http.StatusOK, NewListResponse(items, next))
}

// examEvents is an exam's audit trail: the exam, its attempts and grades.
func (s *Server) examEvents(c *gin.Context) {
	e, ok := s.managedExam(c)
	if !ok {
		return
	}
	f, err := auditFilter(c)
	if err != nil {
		Abort(c, err)
		return
	}
	f.Tags = []string{domain.ExamTag(e.ID)}
	if sid := c.Query("student_id"); sid != "" {
		f.Tags = append(f.Tags, domain.StudentTag(sid))
	}
	s.writeEvents(c, f)
}

// auditEvents queries the whole store (admins only).
func (s *Server) auditEvents(c *gin.Context) {
	if !requireRole(c, domain.RoleAdmin) {
		return
	}
	f, err := auditFilter(c)
	if err != nil {
		Abort(c, err)
		return
	}
	f.StreamID = c.Query("stream_id")
	f.ActorID = c.Query("actor_id")
	s.writeEvents(c, f)
}
