package component_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/examhall/exam/auth"
	platform "github.com/examhall/exam/cmd/platform"
)

// A position the log has not reached is refused at once: it used to hold
// the request five seconds before a 503.
func TestMinPositionBeyondTheLogIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	e := start(t)
	head := e.head()
	start := time.Now()
	e.call(http.MethodGet, "/levels", e.admin.Access, nil, "X-Min-Position", "99999999999").
		wantError(t, http.StatusBadRequest, "validation_failed")
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("refusal took %v", took)
	}
	// A position the log has is still waited for and served.
	e.call(http.MethodGet, "/levels", e.admin.Access, nil, "X-Min-Position", strconv.FormatUint(head, 10)).want(t, http.StatusOK)
}

// Control characters and bidirectional overrides are refused in names,
// titles and texts on every path, and nothing is appended.
func TestControlAndBidiCharactersRefused(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	before := e.head()
	cases := []struct {
		name, method, path, token, body, field string
	}{
		{"level with NUL", "POST", "/levels", e.admin.Access, `{"name":"Year\u00001"}`, "name"},
		{"user name with RLO", "POST", "/users", e.admin.Access,
			`{"email":"rlo@school.test","password":"long-enough","full_name":"Eve\u202eevE","role":"doctor"}`, "full_name"},
		{"patched name with escape", "PATCH", "/users/" + w.studentA2.ID, e.admin.Access, `{"full_name":"\u001b[31mred"}`, "full_name"},
		{"exam title with newline", "POST", "/exams", w.doctor.Access,
			`{"title":"Final\nexam","level_id":"` + w.levelA + `","questions":[]}`, "title"},
		{"question text with isolate", "POST", "/exams", w.doctor.Access,
			`{"title":"T","level_id":"` + w.levelA + `","questions":[{"text":"Which\u2067?","kind":"true_false","correct":["true"]}]}`,
			"questions[0].text"},
		{"choice text with C1", "POST", "/exams", w.doctor.Access,
			`{"title":"T","level_id":"` + w.levelA + `","questions":[{"text":"Q","kind":"single","correct":["a"],"choices":[{"text":"x\u0085y"},{"text":"y"}]}]}`,
			"questions[0].choices[0].text"},
	}
	for _, c := range cases {
		r := e.call(c.method, c.path, c.token, c.body).wantError(t, http.StatusBadRequest, "validation_failed")
		if _, ok := r.fields(t)[c.field]; !ok {
			t.Errorf("%s: field %s not named: %s", c.name, c.field, r)
		}
	}
	if after := e.head(); after != before {
		t.Fatalf("refused requests appended %d events", after-before)
	}
	// A question text may keep its newlines.
	e.post("/exams", w.doctor.Access, `{"title":"T","level_id":"`+w.levelA+`","questions":[{"text":"Line one\nline two","kind":"true_false","correct":["true"]}]}`).
		want(t, http.StatusCreated)
}

// A login body with two "password" keys is refused, not decided by the last.
func TestDuplicateJSONKeysRefused(t *testing.T) {
	t.Parallel()
	e := start(t)
	body := `{"email":"` + adminEmail + `","password":"wrong-password","password":"` + adminPassword + `"}`
	r := e.post("/auth/login", "", body).wantError(t, http.StatusBadRequest, "invalid_json")
	if f, _ := r.errorBody(t).Error.Details["field"].(string); f != "password" {
		t.Fatalf("details.field = %q, want password", f)
	}
	e.post("/auth/login", "", `{"email":"`+adminEmail+`","password":"x","Password":"`+adminPassword+`"}`).
		wantError(t, http.StatusBadRequest, "invalid_json")
}

// Oversized headers get the contract's error shape (up to the server's
// hard limit, which Go answers itself).
func TestOversizedHeadersGetTheErrorShape(t *testing.T) {
	t.Parallel()
	e := start(t)
	r := e.call(http.MethodGet, "/levels", e.admin.Access, nil, "X-Padding", strings.Repeat("p", 70<<10))
	r.wantError(t, http.StatusRequestHeaderFieldsTooLarge, "header_too_large")
	e.call(http.MethodGet, "/levels", e.admin.Access, nil, "X-Padding", strings.Repeat("p", 8<<10)).want(t, http.StatusOK)
}

// Tokens signed with the platform's key but issued in the future, or with
// a time claim that is a string, are refused.
func TestTokensWithBadTimeClaimsRefused(t *testing.T) {
	t.Parallel()
	e := start(t)
	u := e.admin
	future, _, err := e.issuer(jwtSecret, time.Hour).IssueAccess(u.ID, u.Role, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.get("/me", future).wantError(t, http.StatusUnauthorized, "unauthenticated")
	now := e.clock.Now()
	sign := func(payload string) string {
		enc := base64.RawURLEncoding.EncodeToString
		h := enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload))
		mac := hmac.New(sha256.New, []byte(jwtSecret))
		mac.Write([]byte(h))
		return h + "." + enc(mac.Sum(nil))
	}
	claims := func(exp string) string {
		return `{"iss":"` + auth.DefaultIssuer + `","sub":"` + u.ID + `","typ":"access","role":"admin","jti":"x","iat":` +
			strconv.FormatInt(now.Unix(), 10) + `,"exp":` + exp + `}`
	}
	exp := strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
	e.get("/me", sign(claims(exp))).want(t, http.StatusOK) // the hand-made token is otherwise good
	e.get("/me", sign(claims(`"`+exp+`"`))).wantError(t, http.StatusUnauthorized, "unauthenticated")
}

// id_number is a string; a JSON integer is accepted and stored as its
// decimal digits (issue 8.9), on creation and in a patch.
func TestIDNumberAcceptsIntegers(t *testing.T) {
	t.Parallel()
	e := start(t)
	level := e.createLevel("Year 1")
	create := func(idn string) *userView {
		email := e.unique("idn") + "@school.test"
		body := `{"email":"` + email + `","password":"long-enough","full_name":"N","role":"student","level_id":"` + level + `","id_number":` + idn + `}`
		var u userView
		e.post("/users", e.admin.Access, body).want(t, http.StatusCreated).decode(t, &u)
		return &u
	}
	for idn, want := range map[string]string{`"00123"`: "00123", `4567`: "4567", `98765432109876543210`: "98765432109876543210"} {
		u := create(idn)
		if u.IDNumber == nil || *u.IDNumber != want {
			t.Errorf("id_number %s stored as %v, want %q", idn, u.IDNumber, want)
		}
		var got userView
		e.get("/users/"+u.ID, e.admin.Access).want(t, http.StatusOK).decode(t, &got)
		if got.IDNumber == nil || *got.IDNumber != want {
			t.Errorf("id_number %s read back as %v, want %q", idn, got.IDNumber, want)
		}
	}
	u := create(`"1"`)
	var patched userView
	e.call(http.MethodPatch, "/users/"+u.ID, e.admin.Access, `{"id_number":770}`).want(t, http.StatusOK).decode(t, &patched)
	if patched.IDNumber == nil || *patched.IDNumber != "770" {
		t.Fatalf("patched id_number = %v", patched.IDNumber)
	}
	head := e.head()
	r := e.call(http.MethodPatch, "/users/"+u.ID, e.admin.Access, `{"id_number":7.5}`).wantError(t, http.StatusBadRequest, "validation_failed")
	if _, ok := r.fields(t)["id_number"]; !ok {
		t.Fatalf("id_number not named: %s", r)
	}
	if e.head() != head {
		t.Fatal("a refused patch appended events")
	}
}

// withoutScheduler lets the scheduler tick only once an hour (of real
// time), so a scheduled exam stays scheduled after its opens_at: the
// moment between the opening time and the scheduler's record of it.
func withoutScheduler() option {
	return func(c *platform.Config) { c.SchedulerInterval = time.Hour }
}

// A scheduled exam is sealed for students until it opens: its summary with
// "questions": [], no question text, choice or image — and its images are
// not served to them. Once opens_at passes it accepts answers, and is
// readable, even before the scheduler records the opening.
func TestScheduledExamIsSealedUntilItOpens(t *testing.T) {
	t.Parallel()
	e := start(t, withoutScheduler(), withAccessTTL(24*time.Hour))
	w := e.world()
	pic := pngImage(t)
	var img imageResp
	e.upload("/images", w.doctor.Access, "map.png", "image/png", pic).want(t, http.StatusCreated).decode(t, &img)
	qs := standardQuestions()
	qs[0]["image_id"] = img.ID
	opens := e.clock.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	ex := e.publishedExam(w.doctor, w.levelA, map[string]any{"questions": qs, "opens_at": opens})
	if ex.Status != "scheduled" {
		t.Fatalf("published as %s", ex.Status)
	}

	sealed := func(when string) {
		t.Helper()
		r := e.get("/exams/"+ex.ID, w.studentA.Access).want(t, http.StatusOK)
		var v examView
		r.decode(t, &v)
		if v.Status != "scheduled" || len(v.Questions) != 0 || v.QuestionCount != 4 || v.MaxScore != 8 {
			t.Fatalf("%s: status %s, %d questions, question_count %d, max_score %v", when, v.Status, len(v.Questions), v.QuestionCount, v.MaxScore)
		}
		if !strings.Contains(string(r.body), `"questions":[]`) {
			t.Fatalf("%s: want \"questions\": [] in %s", when, r.body)
		}
		for _, leak := range []string{"powerhouse", "Mitochondrion", img.ID, `"choices"`} {
			if strings.Contains(string(r.body), leak) {
				t.Fatalf("%s: sealed exam leaks %q: %s", when, leak, r.body)
			}
		}
		e.get("/images/"+img.ID, w.studentA.Access).wantError(t, http.StatusNotFound, "not_found")
		e.call(http.MethodGet, "/images/"+img.ID, w.studentA.Access, nil, "If-None-Match", `"`+img.ID+`"`).wantError(t, http.StatusNotFound, "not_found")
	}
	sealed("first read") // fills the cache
	sealed("cached read")
	// Staff read it whole, and the image.
	if v := e.getExam(ex.ID, w.doctor); len(v.Questions) != 4 {
		t.Fatalf("the doctor sees %d questions", len(v.Questions))
	}
	e.get("/images/"+img.ID, w.doctor.Access).want(t, http.StatusOK)
	// A student listing sees the summary only (as ever).
	e.post("/exams/"+ex.ID+"/attempt", w.studentA.Access, nil).wantError(t, http.StatusConflict, "exam_not_open")

	e.clock.Advance(time.Hour)
	sealed("an hour before it opens")

	e.clock.Advance(time.Hour + time.Minute)
	// Past opens_at, still "scheduled" (no scheduler ran): it accepts
	// answers, so it is readable, with its image.
	var v examView
	r := e.get("/exams/"+ex.ID, w.studentA.Access).want(t, http.StatusOK)
	r.decode(t, &v)
	if v.Status != "scheduled" || len(v.Questions) != 4 || v.Questions[0].Text == "" {
		t.Fatalf("after opens_at: status %s, %d questions: %s", v.Status, len(v.Questions), r.body)
	}
	if strings.Contains(string(r.body), `"correct"`) {
		t.Fatalf("keys leak after opening: %s", r.body)
	}
	e.get("/images/"+img.ID, w.studentA.Access).want(t, http.StatusOK)
	e.put("/exams/"+ex.ID+"/answers/q1", w.studentA.Access, map[string]any{"choices": []string{"b"}}).want(t, http.StatusOK)
	// A student of another level never sees it.
	e.get("/exams/"+ex.ID, w.other.Access).wantError(t, http.StatusNotFound, "not_found")
	e.get("/images/"+img.ID, w.other.Access).wantError(t, http.StatusNotFound, "not_found")
}

// An attacker who knows a student's email can lock the account for every
// client without a device token, but not for the student's own client: a
// client that logged in before presents its device token and is counted
// on its own. Tokens of another account, or forged, count for nothing.
func TestKnownDeviceGetsInWhileTheAccountIsUnderAttack(t *testing.T) {
	t.Parallel()
	e := start(t)
	w := e.world()
	victim, other := w.studentA, w.studentA2
	loginBody := func(password, device string) map[string]string {
		return map[string]string{"email": victim.Email, "password": password, "device_token": device}
	}
	var first tokenResponseWithDevice
	e.post("/auth/login", "", loginBody(victim.Password, "")).want(t, http.StatusOK).decode(t, &first)
	if first.DeviceToken == "" {
		t.Fatal("a login gave no device_token")
	}
	var otherLogin tokenResponseWithDevice
	e.post("/auth/login", "", map[string]string{"email": other.Email, "password": other.Password}).want(t, http.StatusOK).decode(t, &otherLogin)

	// The attack: wrong passwords, from the school's one address, until
	// the account is locked (and on, extending the lock).
	for i := range 12 {
		r := e.post("/auth/login", "", loginBody("guess-"+strconv.Itoa(i), ""))
		if r.status != http.StatusUnauthorized && r.status != http.StatusTooManyRequests {
			t.Fatalf("attack login %d: %s", i, r)
		}
	}
	// Locked for every client without the device token — the right
	// password included, a device token of another account, or a forged one.
	for name, device := range map[string]string{"none": "", "another account's": otherLogin.DeviceToken,
		"not a token": "x.y.z", "an access token": first.AccessToken} {
		e.post("/auth/login", "", loginBody(victim.Password, device)).wantError(t, http.StatusTooManyRequests, "rate_limited")
		_ = name
	}
	// The student's own client gets in, at once, and gets a new device token.
	var again tokenResponseWithDevice
	e.post("/auth/login", "", loginBody(victim.Password, first.DeviceToken)).want(t, http.StatusOK).decode(t, &again)
	if again.DeviceToken == "" {
		t.Fatal("no new device token")
	}
	// Its own wrong passwords lock only itself.
	for i := range 5 {
		e.post("/auth/login", "", loginBody("typo-"+strconv.Itoa(i), again.DeviceToken)).wantError(t, http.StatusUnauthorized, "invalid_credentials")
	}
	e.post("/auth/login", "", loginBody(victim.Password, again.DeviceToken)).wantError(t, http.StatusTooManyRequests, "rate_limited")
	e.post("/auth/login", "", loginBody(victim.Password, first.DeviceToken)).want(t, http.StatusOK)
}

type tokenResponseWithDevice struct {
	AccessToken string `json:"access_token"`
	DeviceToken string `json:"device_token"`
}
