package api

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
)

// The import admission rule: at most n at once, the next refused at once
// with 503 unavailable and Retry-After, a slot freed is taken again.
func TestImportAdmission(t *testing.T) {
	t.Parallel()
	a := NewAdmission(2)
	r1, err1 := a.Acquire()
	r2, err2 := a.Acquire()
	if err1 != nil || err2 != nil {
		t.Fatalf("the first two: %v, %v", err1, err2)
	}
	_, err := a.Acquire()
	if !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("the third: %v, want ErrUnavailable", err)
	}
	gin.SetMode(gin.TestMode)
	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest("POST", "/x", nil)
	WriteError(c, err)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("refusal answered %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	r1()
	r3, err := a.Acquire()
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	r2()
	r3()
}
