package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/interchange/questions"
	"github.com/examhall/exam/projections"
	"github.com/gin-gonic/gin"
)

// The OpenAPI document (openapi.json) is handwritten; these tests keep it
// from drifting from the routes NewHandler registers and from API.md.

const openAPIBasePath = "/api/v1"

// openAPICoreOperations are the endpoints API.md marks ● (frozen). The document
// must mark exactly these with "x-core": true. gin names the question of
// PUT /exams/:id/answers/:qid "qid" (API.md writes {question_id}).
var openAPICoreOperations = []string{
	"POST /auth/login",
	"POST /auth/refresh",
	"POST /auth/verify",
	"GET /me",
	"POST /levels",
	"GET /levels", // in the ● bullet of POST /levels
	"POST /users",
	"POST /exams",
	"GET /exams",
	"GET /exams/{id}",
	"POST /exams/{id}/publish",
	"POST /exams/{id}/close",
	"PUT /exams/{id}/questions/{qid}/answer-key",
	"POST /exams/{id}/regrade",
	"GET /exams/{id}/results",
	"GET /exams/{id}/events",
	"POST /exams/{id}/attempt",
	"PUT /exams/{id}/answers/{qid}",
	"POST /exams/{id}/answers",
	"POST /exams/{id}/submit",
	"GET /exams/{id}/attempt",
	"GET /exams/{id}/result",
	"GET /audit/events",
	"POST /exams/{id}/questions/import",
	"POST /users/import",
	"PUT /exams/{id}/accommodations/{student_id}",
	"GET /exams/{id}/monitor",
}

// openAPIPublicOperations need no bearer token: they must override the document's
// security with an empty list, and every other operation must not.
var openAPIPublicOperations = []string{
	"POST /auth/login",
	"POST /auth/refresh",
	"POST /auth/verify",
	"POST /auth/logout",
	"GET /openapi.json",
}

// Stand-ins: building the engine only needs the dependencies to be non-nil.

type openAPIReads struct{}

func (openAPIReads) Exam(context.Context, string) (*domain.Exam, bool, error) { return nil, false, nil }
func (openAPIReads) ListExams(context.Context, projections.ExamFilter) ([]*domain.Exam, bool, error) {
	return nil, false, nil
}
func (openAPIReads) Levels(context.Context) ([]domain.Level, error)           { return nil, nil }
func (openAPIReads) User(context.Context, string) (*domain.User, bool, error) { return nil, false, nil }
func (openAPIReads) ListUsers(context.Context, projections.UserFilter) ([]*domain.User, bool, error) {
	return nil, false, nil
}
func (openAPIReads) StudentExam(context.Context, string) (projections.StudentDoc, bool, error) {
	return projections.StudentDoc{}, false, nil
}
func (openAPIReads) ExamResults(context.Context, string) ([]projections.ResultRow, error) {
	return nil, nil
}
func (openAPIReads) GradesApplied(context.Context, string) (int64, error) { return 0, nil }
func (openAPIReads) StudentResult(context.Context, string, string) (projections.ResultRow, bool, error) {
	return projections.ResultRow{}, false, nil
}
func (openAPIReads) StudentResults(context.Context, string) ([]projections.ResultRow, error) {
	return nil, nil
}

type openAPIEvents struct{}

func (openAPIEvents) Query(context.Context, eventstore.Filter) ([]eventstore.Record, error) {
	return nil, nil
}

type openAPITokens struct{}

func (openAPITokens) ParseAccess(string) (auth.AccessClaims, error) {
	return auth.AccessClaims{}, auth.ErrInvalidToken
}

func openAPITestEngine(t *testing.T) *gin.Engine {
	t.Helper()
	h, err := NewHandler(Config{Commands: &commands.Handlers{}, Reads: openAPIReads{}, Events: openAPIEvents{}, Tokens: openAPITokens{},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("NewHandler: %v", err)
	}
	r, ok := h.(*gin.Engine)
	if !ok {
		t.Fatalf("NewHandler returned %T, want *gin.Engine", h)
	}
	return r
}

var openAPIGinParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// openAPIRoutes returns "METHOD /path" of every route under
// /api/v1, in OpenAPI form (prefix stripped, :param as {param}).
func openAPIRoutes(t *testing.T) map[string]bool {
	t.Helper()
	ops := map[string]bool{}
	for _, rt := range openAPITestEngine(t).Routes() {
		rest, ok := strings.CutPrefix(rt.Path, openAPIBasePath)
		if !ok || (rest != "" && rest[0] != '/') {
			continue
		}
		ops[rt.Method+" "+openAPIGinParam.ReplaceAllString(rest, "{$1}")] = true
	}
	if len(ops) == 0 {
		t.Fatal("no routes registered under " + openAPIBasePath)
	}
	return ops
}

var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

type openAPIOperation struct {
	key    string // "METHOD /path"
	path   string
	method string
	raw    map[string]any
}

// loadOpenAPI parses the embedded document, failing the test on any error.
func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(openAPIDocument))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if _, err := dec.Token(); err == nil {
		t.Fatal("openapi.json has data after the document")
	}
	return doc
}

func openAPIDocOperations(t *testing.T, doc map[string]any) []openAPIOperation {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal(`openapi.json: "paths" is not an object`)
	}
	var ops []openAPIOperation
	for p, item := range paths {
		pi, ok := item.(map[string]any)
		if !ok {
			t.Errorf("paths[%q] is not an object", p)
			continue
		}
		for k, v := range pi {
			if !slices.Contains(openAPIMethods, k) {
				continue
			}
			o, ok := v.(map[string]any)
			if !ok {
				t.Errorf("paths[%q].%s is not an object", p, k)
				continue
			}
			m := strings.ToUpper(k)
			ops = append(ops, openAPIOperation{key: m + " " + p, path: p, method: m, raw: o})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].key < ops[j].key })
	return ops
}

func TestOpenAPIDocumentParses(t *testing.T) {
	doc := loadOpenAPI(t)
	if v, _ := doc["openapi"].(string); v != "3.0.3" {
		t.Errorf("openapi = %v, want 3.0.3", doc["openapi"])
	}
	info, _ := doc["info"].(map[string]any)
	if info == nil || info["title"] == nil || info["version"] == nil {
		t.Error("info needs a title and a version")
	}
	servers, _ := doc["servers"].([]any)
	if len(servers) != 1 {
		t.Fatalf("servers = %v, want one server", doc["servers"])
	}
	if s, _ := servers[0].(map[string]any); s == nil || s["url"] != openAPIBasePath {
		t.Errorf("servers[0] = %v, want url %s", servers[0], openAPIBasePath)
	}
	scheme, err := openAPIResolve(doc, "/components/securitySchemes/bearerAuth")
	if err != "" {
		t.Fatalf("bearerAuth security scheme: %s", err)
	}
	sm, _ := scheme.(map[string]any)
	if sm["type"] != "http" || sm["scheme"] != "bearer" || sm["bearerFormat"] != "JWT" {
		t.Errorf("bearerAuth = %v, want http bearer JWT", scheme)
	}
	if !openAPIRequiresBearer(doc["security"]) {
		t.Errorf("top-level security = %v, want [{bearerAuth: []}]", doc["security"])
	}
	for _, name := range []string{"User", "Level", "Exam", "Question", "QuestionIn", "Choice", "Attempt", "AttemptState",
		"SavedAnswer", "Result", "StudentResult", "Event", "Error", "TokenResponse", "UserList", "LevelList", "ExamList", "EventList"} {
		if _, err := openAPIResolve(doc, "/components/schemas/"+name); err != "" {
			t.Errorf("schema %s: %s", name, err)
		}
	}
	// The error shape of the contract: {"error": {"code", "message", "details"}}.
	for _, p := range []string{"/components/schemas/Error/properties/error/properties/code",
		"/components/schemas/Error/properties/error/properties/message",
		"/components/schemas/Error/properties/error/properties/details"} {
		if _, err := openAPIResolve(doc, p); err != "" {
			t.Errorf("Error schema: %s", err)
		}
	}
}

func openAPIRequiresBearer(sec any) bool {
	list, _ := sec.([]any)
	for _, req := range list {
		if m, _ := req.(map[string]any); m != nil {
			if _, ok := m["bearerAuth"]; ok {
				return true
			}
		}
	}
	return false
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	routes := openAPIRoutes(t)
	documented := map[string]bool{}
	for _, op := range openAPIDocOperations(t, loadOpenAPI(t)) {
		documented[op.key] = true
	}
	for _, k := range openAPISortedKeys(routes) {
		if !documented[k] {
			t.Errorf("route %s is registered but not in openapi.json", k)
		}
	}
	for _, k := range openAPISortedKeys(documented) {
		if !routes[k] {
			t.Errorf("openapi.json documents %s, which is not a registered route", k)
		}
	}
}

func openAPISortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var openAPITemplateParam = regexp.MustCompile(`\{([^}]+)\}`)

func TestOpenAPIOperations(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := openAPIDocOperations(t, doc)
	if len(ops) == 0 {
		t.Fatal("openapi.json documents no operations")
	}
	ids := map[string]string{}
	for _, op := range ops {
		id, _ := op.raw["operationId"].(string)
		if id == "" {
			t.Errorf("%s has no operationId", op.key)
		} else if other, dup := ids[id]; dup {
			t.Errorf("operationId %q is used by %s and %s", id, other, op.key)
		} else {
			ids[id] = op.key
		}

		responses, _ := op.raw["responses"].(map[string]any)
		has2xx := false
		for code := range responses {
			if n, err := strconv.Atoi(code); err == nil && n >= 200 && n < 300 {
				has2xx = true
			}
		}
		if !has2xx {
			t.Errorf("%s has no 2xx response", op.key)
		}

		// Security: public operations opt out, all others inherit bearerAuth.
		sec, overrides := op.raw["security"]
		if slices.Contains(openAPIPublicOperations, op.key) {
			if l, ok := sec.([]any); !overrides || !ok || len(l) != 0 {
				t.Errorf("%s is public: want \"security\": [], got %v", op.key, sec)
			}
		} else if overrides && !openAPIRequiresBearer(sec) {
			t.Errorf("%s must require the bearer token, has security %v", op.key, sec)
		}

		// Parameters: every {param} of the path is declared in: path, and
		// every path parameter is in the template.
		params := openAPIParameters(t, doc, op)
		want := map[string]bool{}
		for _, m := range openAPITemplateParam.FindAllStringSubmatch(op.path, -1) {
			want[m[1]] = true
		}
		got := map[string]bool{}
		for _, p := range params {
			if p["in"] == "path" {
				name, _ := p["name"].(string)
				got[name] = true
				if p["required"] != true {
					t.Errorf("%s: path parameter %q must be required", op.key, name)
				}
				if !want[name] {
					t.Errorf("%s declares path parameter %q that is not in the path", op.key, name)
				}
			}
		}
		for name := range want {
			if !got[name] {
				t.Errorf("%s does not declare path parameter %q", op.key, name)
			}
		}

		// Every authenticated command accepts Idempotency-Key.
		if op.method != http.MethodGet && !slices.Contains(openAPIPublicOperations, op.key) &&
			!slices.ContainsFunc(params, func(p map[string]any) bool { return p["in"] == "header" && p["name"] == "Idempotency-Key" }) {
			t.Errorf("%s does not declare the Idempotency-Key header", op.key)
		}
	}
}

// openAPIParameters returns the path item's and the operation's
// parameters, $refs resolved.
func openAPIParameters(t *testing.T, doc map[string]any, op openAPIOperation) []map[string]any {
	t.Helper()
	item := doc["paths"].(map[string]any)[op.path].(map[string]any)
	var out []map[string]any
	for _, list := range []any{item["parameters"], op.raw["parameters"]} {
		l, _ := list.([]any)
		for _, p := range l {
			pm, _ := p.(map[string]any)
			if r, ok := pm["$ref"].(string); ok {
				v, err := openAPIResolve(doc, strings.TrimPrefix(r, "#"))
				if err != "" {
					t.Errorf("%s: parameter %s: %s", op.key, r, err)
					continue
				}
				pm, _ = v.(map[string]any)
			}
			if pm == nil {
				t.Errorf("%s: a parameter is not an object", op.key)
				continue
			}
			out = append(out, pm)
		}
	}
	return out
}

func TestOpenAPIRefsResolve(t *testing.T) {
	doc := loadOpenAPI(t)
	count := 0
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"]; ok {
				count++
				s, _ := r.(string)
				ptr, local := strings.CutPrefix(s, "#")
				if !local {
					t.Errorf("%s: $ref %q is not local to the document", at, s)
				} else if _, err := openAPIResolve(doc, ptr); err != "" {
					t.Errorf("%s: $ref %q does not resolve: %s", at, s, err)
				}
			}
			for k, child := range x {
				walk(child, at+"/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"))
			}
		case []any:
			for i, child := range x {
				walk(child, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "#")
	if count == 0 {
		t.Error("openapi.json has no $ref at all")
	}
}

// openAPIResolve follows a JSON pointer (RFC 6901) in doc; the error is ""
// when it resolves.
func openAPIResolve(doc any, ptr string) (any, string) {
	if ptr == "" {
		return doc, ""
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil, "pointer must start with /"
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := cur.(type) {
		case map[string]any:
			next, ok := x[tok]
			if !ok {
				return nil, "no member " + strconv.Quote(tok)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, "no element " + strconv.Quote(tok)
			}
			cur = x[i]
		default:
			return nil, "cannot descend into a scalar at " + strconv.Quote(tok)
		}
	}
	return cur, ""
}

func TestOpenAPICoreEndpoints(t *testing.T) {
	routes := openAPIRoutes(t)
	marked := map[string]bool{}
	for _, op := range openAPIDocOperations(t, loadOpenAPI(t)) {
		switch v := op.raw["x-core"]; v {
		case nil:
		case true:
			marked[op.key] = true
		default:
			t.Errorf("%s: x-core = %v, want true or absent", op.key, v)
		}
	}
	for _, k := range openAPICoreOperations {
		if !routes[k] {
			t.Errorf("core endpoint %s is not a registered route", k)
		}
		if !marked[k] {
			t.Errorf("core endpoint %s is not marked x-core", k)
		}
	}
	for _, k := range openAPISortedKeys(marked) {
		if !slices.Contains(openAPICoreOperations, k) {
			t.Errorf("%s is marked x-core but API.md does not mark it ●", k)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	r := openAPITestEngine(t)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, openAPIBasePath+"/openapi.json", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s/openapi.json: status %d, want 200", openAPIBasePath, w.Code)
	}
	mt, _, err := mime.ParseMediaType(w.Header().Get("Content-Type"))
	if err != nil || mt != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", w.Header().Get("Content-Type"))
	}
	if !bytes.Equal(w.Body.Bytes(), openAPIDocument) {
		t.Error("the served document differs from openapi.json")
	}
	if !json.Valid(w.Body.Bytes()) {
		t.Error("the served document is not valid JSON")
	}
	// No token needed.
	if w.Header().Get("WWW-Authenticate") != "" {
		t.Error("openapi.json must be served without authentication")
	}
}

// openAPIShapes pairs the Go structs the handlers encode or decode with the
// schemas that document them.
var openAPIShapes = []struct {
	schema   string
	value    any
	response bool // encoded: required and nullable follow the json tags
}{
	{"User", userView{}, true},
	{"Level", levelView{}, true},
	{"Choice", choiceView{}, true},
	{"Question", questionView{}, true},
	{"Exam", examView{}, true},
	{"Attempt", attemptView{}, true},
	{"AttemptState", attemptStateView{}, true},
	{"SavedAnswer", savedAnswerView{}, true},
	{"SubmittedAttempt", submittedView{}, true},
	{"Result", resultItemView{}, true},
	{"QuestionResult", questionResultView{}, true},
	{"StudentResult", studentResultView{}, true},
	{"ScoreChange", scoreChangeView{}, true},
	{"ImportResult", importResultView{}, true},
	{"ImportRowProblem", domain.RowProblem{}, true},
	{"QuestionImportResult", questionImportView{}, true},
	{"ImportItemProblem", questions.Problem{}, true},
	{"RosterImportResult", rosterImportView{}, true},
	{"RosterUser", rosterUserView{}, true},
	{"GeneratedPassword", generatedPasswordView{}, true},
	{"RosterProblem", domain.RosterProblem{}, true},
	{"ExamStats", examStatsView{}, true},
	{"QuestionStats", questionStatsView{}, true},
	{"ScoreCount", scoreCountView{}, true},
	{"Image", imageView{}, true},
	{"Actor", actorView{}, true},
	{"Event", eventView{}, true},
	{"TokenResponse", tokenResponse{}, true},
	{"Error", errorBody{}, true},
	{"Error/properties/error", errorPayload{}, true},
	{"UserList", ListResponse[userView]{}, true},
	{"LevelList", ListResponse[levelView]{}, true},
	{"ExamList", ListResponse[examView]{}, true},
	{"EventList", ListResponse[eventView]{}, true},
	{"StudentResultList", ListResponse[studentResultView]{}, true},
	{"ChoiceIn", choiceIn{}, false},
	{"QuestionIn", questionIn{}, false},
	{"ExamIn", examIn{}, false},
	{"AnswerKeyIn", answerKeyRequest{}, false},
	{"AccommodationIn", accommodationRequest{}, false},
	{"Accommodation", accommodationView{}, true},
	{"Monitor", MonitorView{}, true},
	{"MonitorRow", MonitorRow{}, true},
	{"RegradeIn", regradeRequest{}, false},
	{"AnswerIn", answerRequest{}, false},
	{"BatchAnswer", batchAnswer{}, false},
	{"AnswerBatchIn", batchRequest{}, false},
	{"LoginRequest", loginRequest{}, false},
	{"RefreshRequest", refreshRequest{}, false},
	{"VerifyRequest", verifyRequest{}, false},
	{"LevelIn", createLevelRequest{}, false},
	{"UserIn", createUserRequest{}, false},
	{"UserPatch", patchUserRequest{}, false},
}

var (
	openAPITimeType = reflect.TypeFor[time.Time]()
	openAPIRawType  = reflect.TypeFor[json.RawMessage]()
)

// openAPIType is the OpenAPI type a Go type encodes as.
func openAPIType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == openAPITimeType:
		return "string"
	case t == openAPIRawType:
		return "object"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return t.Kind().String()
}

// TestOpenAPISchemasMatchStructs checks field names, types, required and
// nullable of every documented body against the structs of the handlers.
func TestOpenAPISchemasMatchStructs(t *testing.T) {
	doc := loadOpenAPI(t)
	deref := func(v any) map[string]any {
		m, _ := v.(map[string]any)
		for m != nil {
			r, ok := m["$ref"].(string)
			if !ok {
				break
			}
			next, err := openAPIResolve(doc, strings.TrimPrefix(r, "#"))
			if err != "" {
				return nil
			}
			m, _ = next.(map[string]any)
		}
		return m
	}
	for _, shape := range openAPIShapes {
		raw, err := openAPIResolve(doc, "/components/schemas/"+shape.schema)
		if err != "" {
			t.Errorf("schema %s: %s", shape.schema, err)
			continue
		}
		schema := deref(raw)
		props, _ := schema["properties"].(map[string]any)
		required := map[string]bool{}
		if l, ok := schema["required"].([]any); ok {
			for _, r := range l {
				s, _ := r.(string)
				required[s] = true
			}
		}
		if !shape.response && schema["additionalProperties"] != false {
			t.Errorf("%s: request bodies reject unknown fields: want additionalProperties false", shape.schema)
		}
		st := reflect.TypeOf(shape.value)
		fields := map[string]bool{}
		for i := range st.NumField() {
			f := st.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fields[name] = true
			omitempty := slices.Contains(strings.Split(opts, ","), "omitempty")
			prop := deref(props[name])
			if prop == nil {
				t.Errorf("%s: field %q (%s.%s) is not documented", shape.schema, name, st.Name(), f.Name)
				continue
			}
			if got, want := prop["type"], openAPIType(f.Type); got != want {
				t.Errorf("%s.%s: type %v, the handler uses %s (%s)", shape.schema, name, got, want, f.Type)
			}
			if !shape.response {
				continue
			}
			if omitempty && required[name] {
				t.Errorf("%s.%s is required but the handler omits it when empty", shape.schema, name)
			}
			if !omitempty && !required[name] {
				t.Errorf("%s.%s is always sent: mark it required", shape.schema, name)
			}
			nullable := f.Type.Kind() == reflect.Pointer && !omitempty
			// The property itself (not the referenced schema) carries nullable.
			p, _ := props[name].(map[string]any)
			if isNull, _ := p["nullable"].(bool); isNull != nullable {
				t.Errorf("%s.%s: nullable = %v, the handler sends null: %v", shape.schema, name, isNull, nullable)
			}
		}
		for name := range props {
			if !fields[name] {
				t.Errorf("%s documents %q, which %s does not have", shape.schema, name, st.Name())
			}
		}
	}
}
