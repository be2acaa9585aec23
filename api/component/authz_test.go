package component_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// endpoint is one ● endpoint of the contract. prepare sets up what the
// request needs (a fresh exam when the request changes state) and returns
// the path (under /api/v1) and body.
type endpoint struct {
	name    string
	method  string
	prepare func() (path string, body any)
	// want is the status per actor role name (see actorNames).
	want map[string]int
}

var actorNames = []string{"admin", "owner", "other_doctor", "student", "student_other_level"}

func statuses(admin, owner, otherDoctor, student, otherStudent int) map[string]int {
	return map[string]int{"admin": admin, "owner": owner, "other_doctor": otherDoctor, "student": student, "student_other_level": otherStudent}
}

// contractEndpoints lists every ● endpoint that needs a token, with the
// statuses the contract gives each kind of caller: doctors manage their own
// exams (others get 403), students use exams of their level (others get
// 404: exams they cannot see do not exist for them), staff endpoints refuse
// students by role (403).
func contractEndpoints(e *env, w *world, open, graded examView) []endpoint {
	const ok, created, accepted, forbidden, notFound = http.StatusOK, http.StatusCreated, http.StatusAccepted, http.StatusForbidden, http.StatusNotFound
	staffOnly := func(status int) map[string]int { return statuses(status, status, forbidden, forbidden, forbidden) }
	studentOnly := func(status int) map[string]int { return statuses(forbidden, forbidden, forbidden, status, notFound) }
	fixed := func(path string, body any) func() (string, any) {
		return func() (string, any) { return path, body }
	}
	freshDraft := func(suffix string, body any) func() (string, any) {
		return func() (string, any) { return "/exams/" + e.draftExam(w.doctor, w.levelA, nil).ID + suffix, body }
	}
	freshOpen := func(suffix string, body any) func() (string, any) {
		return func() (string, any) { return "/exams/" + e.publishedExam(w.doctor, w.levelA, nil).ID + suffix, body }
	}
	return []endpoint{
		{"GET /me", "GET", fixed("/me", nil), statuses(ok, ok, ok, ok, ok)},
		{"POST /levels", "POST", func() (string, any) { return "/levels", map[string]string{"name": e.unique("Level")} },
			statuses(created, forbidden, forbidden, forbidden, forbidden)},
		{"GET /levels", "GET", fixed("/levels", nil), statuses(ok, ok, ok, ok, ok)},
		{"POST /users", "POST", func() (string, any) {
			return "/users", map[string]string{"email": e.unique("new") + "@school.test", "password": "long-enough-1",
				"full_name": "New Doctor", "role": "doctor"}
		}, statuses(created, forbidden, forbidden, forbidden, forbidden)},
		{"POST /exams", "POST", func() (string, any) { return "/exams", examBody(e.unique("Exam"), w.levelA, nil) },
			statuses(created, created, created, forbidden, forbidden)},
		{"GET /exams", "GET", fixed("/exams", nil), statuses(ok, ok, ok, ok, ok)},
		{"GET /exams/{id}", "GET", fixed("/exams/"+open.ID, nil), statuses(ok, ok, forbidden, ok, notFound)},
		{"POST /exams/{id}/publish", "POST", freshDraft("/publish", nil), staffOnly(ok)},
		{"POST /exams/{id}/close", "POST", freshOpen("/close", nil), staffOnly(accepted)},
		{"PUT /exams/{id}/questions/{qid}/answer-key", "PUT", freshOpen("/questions/q1/answer-key", map[string]any{"correct": []string{"c"}}), staffOnly(ok)},
		{"POST /exams/{id}/regrade", "POST", fixed("/exams/"+graded.ID+"/regrade", map[string]any{"dry_run": true}), staffOnly(ok)},
		{"GET /exams/{id}/results", "GET", fixed("/exams/"+graded.ID+"/results", nil), staffOnly(ok)},
		{"GET /exams/{id}/events", "GET", fixed("/exams/"+open.ID+"/events", nil), staffOnly(ok)},
		{"POST /exams/{id}/attempt", "POST", freshOpen("/attempt", nil), studentOnly(created)},
		{"PUT /exams/{id}/answers/{qid}", "PUT", fixed("/exams/"+open.ID+"/answers/q1", map[string]any{"choices": []string{"a"}}), studentOnly(ok)},
		{"POST /exams/{id}/answers", "POST", fixed("/exams/"+open.ID+"/answers",
			map[string]any{"answers": []map[string]any{{"question_id": "q3", "choices": []string{"true"}}}}), studentOnly(ok)},
		{"POST /exams/{id}/submit", "POST", freshOpen("/submit", nil), studentOnly(ok)},
		{"GET /exams/{id}/attempt", "GET", fixed("/exams/"+open.ID+"/attempt", nil), studentOnly(ok)},
		{"GET /exams/{id}/result", "GET", fixed("/exams/"+graded.ID+"/result", nil), studentOnly(ok)},
		{"GET /audit/events", "GET", fixed("/audit/events", nil), statuses(ok, forbidden, forbidden, forbidden, forbidden)},
	}
}

// authzWorld is the world plus an open exam studentA has answered and a
// graded exam studentA took.
func authzWorld(t *testing.T, e *env) (*world, examView, examView) {
	w := e.world()
	open := e.publishedExam(w.doctor, w.levelA, nil)
	e.answer(open.ID, "q1", w.studentA, "b").want(t, http.StatusOK)
	graded := e.publishedExam(w.doctor, w.levelA, nil)
	e.answer(graded.ID, "q1", w.studentA, "b").want(t, http.StatusOK)
	e.closeAndGrade(graded.ID, w.doctor, 1)
	return w, open, graded
}

func TestAuthorizationMatrixByRole(t *testing.T) {
	t.Parallel()
	e := start(t)
	w, open, graded := authzWorld(t, e)
	actors := map[string]*user{"admin": e.admin, "owner": w.doctor, "other_doctor": w.doctor2, "student": w.studentA, "student_other_level": w.other}

	for _, ep := range contractEndpoints(e, w, open, graded) {
		for _, who := range actorNames {
			t.Run(ep.name+"/"+who, func(t *testing.T) {
				path, body := ep.prepare()
				before := e.head()
				r := e.call(ep.method, path, actors[who].Access, body)
				want := ep.want[who]
				switch want {
				case http.StatusForbidden:
					r.wantError(t, want, "forbidden")
				case http.StatusNotFound:
					r.wantError(t, want, "not_found")
				default:
					r.want(t, want)
				}
				if want >= 400 && e.head() != before {
					t.Fatalf("a refused request appended events: head %d -> %d", before, e.head())
				}
				if r.status == http.StatusAccepted {
					// A close starts the grading: let it finish before
					// the next case measures the head.
					e.waitGraded(strings.Split(path, "/")[2], w.doctor, 0)
				}
			})
		}
	}
}

// TestAuthorizationMatrixBadTokens: every endpoint that needs a token
// refuses, with 401 unauthenticated and nothing appended, a missing token,
// an expired one, one signed with another key, an unsigned ("alg": "none")
// one, a refresh token presented as an access token, and the token of a
// user who has since been deactivated.
func TestAuthorizationMatrixBadTokens(t *testing.T) {
	t.Parallel()
	e := start(t)
	w, open, graded := authzWorld(t, e)
	deactivatedStudent := e.student(w.levelA)
	deactivatedDoctor := e.doctor()
	e.deactivate(deactivatedStudent)
	e.deactivate(deactivatedDoctor)

	tokens := []struct{ name, token string }{
		{"no token", ""},
		{"expired", e.expiredToken(w.studentA)},
		{"expired admin", e.expiredToken(e.admin)},
		{"forged signature", e.forgedToken(e.admin)},
		{"alg none", e.algNoneToken(e.admin)},
		{"refresh token as access token", e.admin.Refresh},
		{"deactivated student", deactivatedStudent.Access},
		{"deactivated doctor", deactivatedDoctor.Access},
		{"garbage", "not.a.jwt"},
	}
	for _, ep := range contractEndpoints(e, w, open, graded) {
		path, body := ep.prepare()
		for _, tok := range tokens {
			t.Run(ep.name+"/"+tok.name, func(t *testing.T) {
				before := e.head()
				r := e.call(ep.method, path, tok.token, body)
				r.wantError(t, http.StatusUnauthorized, "unauthenticated")
				if got := r.header.Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("WWW-Authenticate = %q, want Bearer", got)
				}
				if after := e.head(); after != before {
					t.Fatalf("an unauthenticated request appended events: head %d -> %d", before, after)
				}
			})
		}
	}
	// A scheme other than Bearer is no token at all.
	e.call("GET", "/me", "", nil, "Authorization", "Basic "+e.admin.Access).wantError(t, http.StatusUnauthorized, "unauthenticated")
}

// TestExamListVisibility: students list published exams of their own level
// only, doctors their own exams, admins everything.
func TestExamListVisibility(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	draft := e.draftExam(w.doctor, w.levelA, nil)
	openA := e.publishedExam(w.doctor, w.levelA, nil)
	openB := e.publishedExam(w.doctor2, w.levelB, nil)

	list := func(u *user, query string) []string {
		var l struct {
			Items []examView `json:"items"`
		}
		e.get("/exams"+query, u.Access).want(t, http.StatusOK).decode(t, &l)
		var ids []string
		for _, it := range l.Items {
			if it.Questions != nil {
				t.Errorf("exam summaries must not list questions: %+v", it)
			}
			ids = append(ids, it.ID)
		}
		slices.Sort(ids)
		return ids
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	cases := []struct {
		name  string
		who   *user
		query string
		want  []string
	}{
		{"admin sees all", e.admin, "", sorted(draft.ID, openA.ID, openB.ID)},
		{"admin filters by status", e.admin, "?status=draft", sorted(draft.ID)},
		{"admin filters by level", e.admin, "?level_id=" + w.levelB, sorted(openB.ID)},
		{"doctor sees own", w.doctor, "", sorted(draft.ID, openA.ID)},
		{"other doctor sees own", w.doctor2, "", sorted(openB.ID)},
		{"student sees published exams of the level", w.studentA, "", sorted(openA.ID)},
		{"student cannot list drafts", w.studentA, "?status=draft", nil},
		{"student cannot list another level", w.studentA, "?level_id=" + w.levelB, nil},
		{"student of level B", w.other, "", sorted(openB.ID)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := list(c.who, c.query); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
	t.Run("a student moved to another level changes exams at once", func(t *testing.T) {
		s := w.studentA2
		e.get("/exams/"+openA.ID, s.Access).want(t, http.StatusOK)
		e.call("PATCH", "/users/"+s.ID, e.admin.Access, map[string]any{"level_id": w.levelB}).want(t, http.StatusOK)
		e.call("GET", "/exams/"+openA.ID, s.Access, nil, "X-Min-Position", "").wantError(t, http.StatusNotFound, "not_found")
		e.call("PUT", "/exams/"+openA.ID+"/answers/q1", s.Access, map[string]any{"choices": []string{"b"}}).wantError(t, http.StatusNotFound, "not_found")
		e.call("PUT", "/exams/"+openB.ID+"/answers/q1", s.Access, map[string]any{"choices": []string{"b"}}).want(t, http.StatusOK)
		if got := list(s, ""); !slices.Equal(got, []string{openB.ID}) {
			t.Fatalf("moved student lists %v", got)
		}
	})
}
