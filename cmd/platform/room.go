package platform

import (
	"github.com/examhall/exam/api/room"
	"github.com/gin-gonic/gin"
)

// withExamRoom adds the students' exam room (/exam/) to the routes the API
// registers besides its own (the web admin's, possibly nil).
func withExamRoom(extra func(r *gin.Engine)) func(r *gin.Engine) {
	return func(r *gin.Engine) {
		if extra != nil {
			extra(r)
		}
		room.Routes(r)
	}
}
