package api

import (
	"net/http"

	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
)

type examStatsView struct {
	Attempts          int                 `json:"attempts"`
	Questions         []questionStatsView `json:"questions"`
	ScoreDistribution []scoreCountView    `json:"score_distribution"`
}

type questionStatsView struct {
	QuestionID          string         `json:"question_id"`
	Answered            int            `json:"answered"`
	ChoiceCounts        map[string]int `json:"choice_counts"`
	FacilityIndex       *float64       `json:"facility_index"`
	DiscriminationIndex *float64       `json:"discrimination_index"`
}

type scoreCountView struct {
	Score float64 `json:"score"`
	Count int     `json:"count"`
}

func viewExamStats(st domain.ExamStats) examStatsView {
	v := examStatsView{Attempts: st.Attempts, Questions: make([]questionStatsView, 0, len(st.Questions)),
		ScoreDistribution: make([]scoreCountView, 0, len(st.ScoreDistribution))}
	for _, q := range st.Questions {
		v.Questions = append(v.Questions, questionStatsView{QuestionID: q.QuestionID, Answered: q.Answered, ChoiceCounts: q.ChoiceCounts,
			FacilityIndex: q.Facility, DiscriminationIndex: q.Discrimination})
	}
	for _, sc := range st.ScoreDistribution {
		v.ScoreDistribution = append(v.ScoreDistribution, scoreCountView{Score: sc.Score, Count: sc.Count})
	}
	return v
}

// examStats is an exam's item statistics (owning doctor, admin; once the
// exam is closed), computed by replaying its attempts.
func (s *Server) examStats(c *gin.Context) {
	if !requireRole(c, domain.RoleAdmin, domain.RoleDoctor) {
		return
	}
	m := s.meta(c)
	st, err := s.cmd.ExamStats.Handle(c.Request.Context(), m, c.Param("id"))
	if err != nil {
		Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, viewExamStats(st))
}
