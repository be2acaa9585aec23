package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/examhall/exam/api/idempotency"
	"github.com/examhall/exam/commands"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// decodeTestBody is representative of the contract's request bodies.
type decodeTestBody struct {
	Title    string             `json:"title"`
	LevelID  uuid.UUID          `json:"level_id"`
	Limit    int                `json:"limit"`
	Small    int8               `json:"small"`
	Count    uint               `json:"count"`
	Points   float64            `json:"points"`
	DryRun   *bool              `json:"dry_run"`
	OpensAt  *time.Time         `json:"opens_at"`
	Correct  []string           `json:"correct"`
	Choices  []decodeTestChoice `json:"choices"`
	Answers  map[string]int     `json:"answers"`
	Settings *decodeTestChoice  `json:"settings"`
	IDNumber *idNumber          `json:"id_number"`
}

type decodeTestChoice struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

// decodeTestContext builds a gin context for body with Content-Type ct
// ("-" for none) and an optional body limit.
func decodeTestContext(body io.Reader, ct string, limit int64) *gin.Context {
	gin.SetMode(gin.TestMode)
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodPost, "/x", body)
	if ct != "-" {
		c.Request.Header.Set("Content-Type", ct)
	}
	if limit > 0 {
		c.Set(bodyLimitContextKey, limit)
	}
	return c
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	const js = "application/json"
	tests := []struct {
		name    string
		ct      string
		body    string
		limit   int64
		status  int // 0 = success
		code    string
		msgHas  string
		details map[string]any
		check   func(t *testing.T, b decodeTestBody)
	}{
		{name: "valid", ct: js, body: `{"title":"Midterm","limit":3,"points":1.5,"dry_run":false,"correct":["a"],
			"choices":[{"key":"a","text":"A"}],"opens_at":"2026-05-04T09:00:00Z","level_id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8"}`,
			check: func(t *testing.T, b decodeTestBody) {
				if b.Title != "Midterm" || b.Limit != 3 || b.Points != 1.5 || b.DryRun == nil || *b.DryRun ||
					len(b.Choices) != 1 || b.OpensAt == nil || b.LevelID.String() != "6ba7b810-9dad-11d1-80b4-00c04fd430c8" {
					t.Fatalf("decoded %+v", b)
				}
			}},
		{name: "charset utf-8", ct: "application/json; charset=UTF-8", body: `{}`},
		{name: "surrounding whitespace", ct: js, body: " \n{\"title\":\"x\"}\n\t "},
		{name: "no content type", ct: "-", body: `{}`, status: 415, code: "unsupported_media_type"},
		{name: "text/plain", ct: "text/plain", body: `{}`, status: 415, code: "unsupported_media_type"},
		{name: "form", ct: "application/x-www-form-urlencoded", body: `a=b`, status: 415, code: "unsupported_media_type"},
		{name: "json lookalike", ct: "application/jsonp", body: `{}`, status: 415, code: "unsupported_media_type"},
		{name: "latin1 charset", ct: "application/json; charset=latin1", body: `{}`, status: 415, code: "unsupported_media_type"},
		{name: "malformed content type", ct: "application/json; charset", body: `{}`, status: 415, code: "unsupported_media_type"},
		{name: "empty body", ct: js, body: ``, status: 400, code: "invalid_json", msgHas: "empty"},
		{name: "whitespace body", ct: js, body: "  \n ", status: 400, code: "invalid_json", msgHas: "empty"},
		{name: "null body", ct: js, body: `null`, status: 400, code: "invalid_json"},
		{name: "array body", ct: js, body: `[]`, status: 400, code: "invalid_json", msgHas: "an object"},
		{name: "string body", ct: js, body: `"x"`, status: 400, code: "invalid_json", msgHas: "an object"},
		{name: "malformed", ct: js, body: `{"title":}`, status: 400, code: "invalid_json", msgHas: "malformed"},
		{name: "truncated", ct: js, body: `{"title":"x"`, status: 400, code: "invalid_json", msgHas: "malformed"},
		{name: "trailing object", ct: js, body: `{"title":"x"}{"title":"y"}`, status: 400, code: "invalid_json", msgHas: "after"},
		{name: "trailing garbage", ct: js, body: `{"title":"x"} x`, status: 400, code: "invalid_json"},
		{name: "trailing brace", ct: js, body: `{"title":"x"}}`, status: 400, code: "invalid_json"},
		{name: "unknown field", ct: js, body: `{"title":"x","is_admin":true}`, status: 400, code: "invalid_json",
			msgHas: `"is_admin"`, details: map[string]any{"field": "is_admin"}},
		{name: "unknown nested field", ct: js, body: `{"choices":[{"key":"a","correct":true}]}`, status: 400, code: "invalid_json",
			msgHas: `"correct"`, details: map[string]any{"field": "correct"}},
		{name: "string for int", ct: js, body: `{"limit":"10"}`, status: 400, code: "validation_failed",
			details: map[string]any{"fields": map[string]any{"limit": "must be an integer"}}},
		{name: "fraction for int", ct: js, body: `{"limit":1.5}`, status: 400, code: "validation_failed",
			details: map[string]any{"fields": map[string]any{"limit": "must be an integer"}}},
		{name: "int overflow", ct: js, body: `{"small":300}`, status: 400, code: "validation_failed",
			details: map[string]any{"fields": map[string]any{"small": "is out of range"}}},
		{name: "negative uint", ct: js, body: `{"count":-1}`, status: 400, code: "validation_failed",
			details: map[string]any{"fields": map[string]any{"count": "is out of range"}}},
		{name: "float overflow", ct: js, body: `{"points":1e400}`, status: 400, code: "validation_failed",
			details: map[string]any{"fields": map[string]any{"points": "is out of range"}}},
		{name: "number for string", ct: js, body: `{"title":5}`, status: 400, code: "validation_failed",
			details: map[string]any{"fields": map[string]any{"title": "must be a string"}}},
		{name: "string for bool", ct: js, body: `{"dry_run":"yes"}`, status: 400, code: "validation_failed",
			details: map[string]any{"fields": map[string]any{"dry_run": "must be a boolean"}}},
		{name: "string for array", ct: js, body: `{"correct":"a"}`, status: 400, code: "validation_failed",
			details: map[string]any{"fields": map[string]any{"correct": "must be an array"}}},
		{name: "array for object", ct: js, body: `{"settings":[]}`, status: 400, code: "validation_failed",
			details: map[string]any{"fields": map[string]any{"settings": "must be an object"}}},
		{name: "nested path", ct: js, body: `{"choices":[{"key":1}]}`, status: 400, code: "validation_failed",
			details: map[string]any{"fields": map[string]any{"choices.key": "must be a string"}}},
		{name: "map value", ct: js, body: `{"answers":{"q1":"x"}}`, status: 400, code: "validation_failed",
			details: map[string]any{"fields": map[string]any{"answers": "must be an integer"}}},
		{name: "number for uuid", ct: js, body: `{"level_id":1}`, status: 400, code: "validation_failed",
			details: map[string]any{"fields": map[string]any{"level_id": "must be a string"}}},
		{name: "bad uuid", ct: js, body: `{"level_id":"nope"}`, status: 400, code: "invalid_json"},
		{name: "bad time", ct: js, body: `{"opens_at":"tomorrow"}`, status: 400, code: "invalid_json", msgHas: "RFC 3339"},
		{name: "within explicit limit", ct: js, body: `{"title":"xx"}`, limit: 14},
		{name: "over explicit limit", ct: js, body: `{"title":"xxx"}`, limit: 14, status: 413, code: "payload_too_large"},
		{name: "over default limit", ct: js, body: `{"title":"` + strings.Repeat("x", 1<<20) + `"}`, status: 413, code: "payload_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := decodeTestContext(strings.NewReader(tt.body), tt.ct, tt.limit)
			var b decodeTestBody
			err := DecodeJSON(c, &b)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("DecodeJSON = %v", err)
				}
				if tt.check != nil {
					tt.check(t, b)
				}
				return
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("DecodeJSON = %v (%T), want *APIError", err, err)
			}
			if apiErr.Status != tt.status || apiErr.Code != tt.code {
				t.Fatalf("got %d %s (%s), want %d %s", apiErr.Status, apiErr.Code, apiErr.Message, tt.status, tt.code)
			}
			if !strings.Contains(apiErr.Message, tt.msgHas) {
				t.Fatalf("message %q does not mention %q", apiErr.Message, tt.msgHas)
			}
			if tt.details != nil {
				got, _ := json.Marshal(apiErr.Details)
				want, _ := json.Marshal(tt.details)
				if !bytes.Equal(got, want) {
					t.Fatalf("details = %s, want %s", got, want)
				}
			}
		})
	}
}

func TestDecodeJSONProgrammingErrors(t *testing.T) {
	t.Parallel()
	c := decodeTestContext(strings.NewReader(`{}`), "application/json", 0)
	var b decodeTestBody
	err := DecodeJSON(c, b) // not a pointer
	var apiErr *APIError
	if err == nil || errors.As(err, &apiErr) {
		t.Fatalf("non-pointer destination: %v, want a plain error (500)", err)
	}
}

func TestDecodeJSONThroughWriteError(t *testing.T) {
	t.Parallel()
	r := apiTestEngine(BodyLimit(1 << 10))
	r.POST("/x", func(c *gin.Context) {
		var b decodeTestBody
		if err := DecodeJSON(c, &b); err != nil {
			WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, b)
	})
	req := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(`{"limit":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := apiTestDo(r, req)
	e := apiTestErrorBody(t, rec)
	want := map[string]any{"fields": map[string]any{"limit": "must be an integer"}}
	if rec.Code != 400 || e.Code != "validation_failed" || !reflect.DeepEqual(e.Details, want) {
		t.Fatalf("%d %+v", rec.Code, e)
	}
}

// FuzzDecodeJSON: DecodeJSON never panics; it either fails with a 4xx
// *APIError or yields a value that re-encodes, and whose encoding decodes
// (through DecodeJSON again) to the same encoding.
func FuzzDecodeJSON(f *testing.F) {
	seeds := []string{
		`{}`, `{"title":"x","limit":1,"points":-0.5e3,"dry_run":true,"correct":["a","b"]}`,
		`{"choices":[{"key":"a","text":"A"},{"key":"b"}],"answers":{"q":1},"settings":null}`,
		`{"opens_at":"2026-01-02T15:04:05.123+01:00","level_id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8"}`,
		`{"title":"\u00e9\ud800"}`, `{"title":"` + "\xff" + `"}`, `null`, `[]`, `{"limit":"1"}`, `{"small":1e2}`,
		`{"title":"x"} {}`, `{"unknown":1}`, `{"title":"x",}`, `{"TITLE":"case"}`, `{"title":"a","title":"b"}`, `{"title":"a","TITLE":"b"}`,
		`{"choices":[{"key":"a","key":"b"}]}`, `{"answers":{"q":1,"q":2}}`, `{"id_number":"007"}`, `{"id_number":123456789012345678901234567890}`,
		`{"id_number":-1}`, `{"id_number":1.0}`, `{"id_number":null}`, `{"choices":[{"key":"a"},{"key":"b"}]}`,
		"", " ", `{"choices":[{"key":{}}]}`, `{"answers":{"":-0}}`, `{"count":18446744073709551616}`,
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i%3))
	}
	cts := []string{"application/json", "application/json; charset=utf-8", "text/plain"}
	f.Fuzz(func(t *testing.T, body []byte, ctSel uint8) {
		ct := cts[int(ctSel)%len(cts)]
		var dst decodeTestBody
		err := DecodeJSON(decodeTestContext(bytes.NewReader(body), ct, 4096), &dst)
		if err != nil {
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status < 400 || apiErr.Status > 499 || apiErr.Code == "" || apiErr.Message == "" {
				t.Fatalf("DecodeJSON(%q) = %v, want a 4xx *APIError", body, err)
			}
			return
		}
		enc, err := json.Marshal(dst)
		if err != nil {
			t.Fatalf("decoded value does not re-encode: %v", err)
		}
		var again decodeTestBody
		if err := DecodeJSON(decodeTestContext(bytes.NewReader(enc), "application/json", 1<<20), &again); err != nil {
			t.Fatalf("re-encoded %s rejected: %v", enc, err)
		}
		enc2, _ := json.Marshal(again)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip differs:\n%s\n%s", enc, enc2)
		}

		// What DecodeJSON accepts has no key twice in any object.
		if hasDuplicateKey(body) {
			t.Fatalf("DecodeJSON accepted %q, which repeats a key", body)
		}
	})
}

// hasDuplicateKey is the fuzz target's independent check: it decodes every
// object into ordered key lists through json.RawMessage recursion.
func hasDuplicateKey(body []byte) bool {
	var walk func(raw json.RawMessage) bool
	walk = func(raw json.RawMessage) bool {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			return false
		}
		switch raw[0] {
		case '{':
			dec := json.NewDecoder(bytes.NewReader(raw))
			_, _ = dec.Token()
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return false
				}
				key := strings.ToLower(k.(string))
				if seen[key] {
					return true
				}
				seen[key] = true
				var v json.RawMessage
				if dec.Decode(&v) != nil {
					return false
				}
				if walk(v) {
					return true
				}
			}
		case '[':
			var items []json.RawMessage
			if json.Unmarshal(raw, &items) != nil {
				return false
			}
			for _, it := range items {
				if walk(it) {
					return true
				}
			}
		}
		return false
	}
	return walk(body)
}

func TestDecodeJSONDuplicateKeys(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"title":"a","title":"b"}`,
		`{"title":"a","Title":"b"}`,
		`{"choices":[{"key":"a","text":"x","key":"b"}]}`,
		`{"settings":{"key":"a","key":"a"}}`,
		`{"answers":{"q":1,"q":2}}`,
	} {
		var dst decodeTestBody
		err := DecodeJSON(decodeTestContext(strings.NewReader(body), "application/json", 0), &dst)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || apiErr.Code != "invalid_json" {
			t.Errorf("%s: got %v, want 400 invalid_json", body, err)
		}
	}
	// The same key in sibling objects is not a duplicate.
	var dst decodeTestBody
	if err := DecodeJSON(decodeTestContext(strings.NewReader(`{"choices":[{"key":"a"},{"key":"b"}],"settings":{"key":"c"}}`), "application/json", 0), &dst); err != nil {
		t.Fatalf("sibling objects refused: %v", err)
	}
}

// The middleware's fingerprint is the one the stored records were made with.
func TestIdempotencyHashUnchanged(t *testing.T) {
	body := []byte(`{"a":1}`)
	if idempotency.RequestHash("POST", "/api/v1/exams", body) != commands.RequestHash("POST", "/api/v1/exams", body) {
		t.Fatal("the request hash changed: stored idempotency records would no longer match")
	}
}

func TestIDNumberStringOrInteger(t *testing.T) {
	t.Parallel()
	type body struct {
		IDNumber *idNumber `json:"id_number"`
	}
	for in, want := range map[string]string{
		`{"id_number":"00123"}`:                 "00123",
		`{"id_number":123}`:                     "123",
		`{"id_number":0}`:                       "0",
		`{"id_number":12345678901234567890123}`: "12345678901234567890123",
	} {
		var b body
		if err := DecodeJSON(decodeTestContext(strings.NewReader(in), "application/json", 0), &b); err != nil || b.IDNumber == nil || string(*b.IDNumber) != want {
			t.Errorf("%s: got %v, %v; want %q", in, b.IDNumber, err, want)
		}
	}
	for _, in := range []string{`{"id_number":1.5}`, `{"id_number":-1}`, `{"id_number":1e3}`, `{"id_number":true}`, `{"id_number":{}}`, `{"id_number":[1]}`} {
		var b body
		err := DecodeJSON(decodeTestContext(strings.NewReader(in), "application/json", 0), &b)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Code != "validation_failed" {
			t.Errorf("%s: got %v, want validation_failed", in, err)
			continue
		}
		if f, _ := apiErr.Details["fields"].(map[string]string); f["id_number"] == "" {
			t.Errorf("%s: id_number not named: %v", in, apiErr.Details)
		}
	}
}
