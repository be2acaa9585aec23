package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestParsePage(t *testing.T) {
	t.Parallel()
	valid := EncodeCursor("pos-42")
	tests := []struct {
		name       string
		query      string
		want       Page
		badFields  []string
		wantStatus int
	}{
		{name: "defaults", query: "", want: Page{Limit: 50}},
		{name: "empty limit is the default", query: "limit=", want: Page{Limit: 50}},
		{name: "limit", query: "limit=10", want: Page{Limit: 10}},
		{name: "min", query: "limit=1", want: Page{Limit: 1}},
		{name: "max", query: "limit=500", want: Page{Limit: 500}},
		{name: "zero", query: "limit=0", badFields: []string{"limit"}},
		{name: "negative", query: "limit=-5", badFields: []string{"limit"}},
		{name: "over max", query: "limit=501", badFields: []string{"limit"}},
		{name: "not a number", query: "limit=ten", badFields: []string{"limit"}},
		{name: "fraction", query: "limit=1.5", badFields: []string{"limit"}},
		{name: "huge", query: "limit=99999999999999999999", badFields: []string{"limit"}},
		{name: "cursor", query: "cursor=" + valid, want: Page{Limit: 50, Cursor: valid}},
		{name: "empty cursor", query: "cursor=", want: Page{Limit: 50}},
		{name: "garbage cursor", query: "cursor=%40%40%40", badFields: []string{"cursor"}},
		{name: "unparseable query is ignored", query: "cursor=%%%", want: Page{Limit: 50}},
		{name: "not base64", query: "cursor=***", badFields: []string{"cursor"}},
		{name: "foreign base64", query: "cursor=" + base64.RawURLEncoding.EncodeToString([]byte("pos-42")), badFields: []string{"cursor"}},
		{name: "both bad", query: "limit=0&cursor=zz", badFields: []string{"limit", "cursor"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gin.SetMode(gin.TestMode)
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest(http.MethodGet, "/x?"+tt.query, nil)
			got, err := ParsePage(c)
			if len(tt.badFields) == 0 {
				if err != nil || got != tt.want {
					t.Fatalf("ParsePage = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Code != "validation_failed" {
				t.Fatalf("err = %v, want 400 validation_failed", err)
			}
			fields := apiErr.Details["fields"].(map[string]string)
			if len(fields) != len(tt.badFields) {
				t.Fatalf("fields = %v, want %v", fields, tt.badFields)
			}
			for _, f := range tt.badFields {
				if fields[f] == "" {
					t.Fatalf("fields = %v, missing %q", fields, f)
				}
			}
		})
	}
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"x", "pos-42", `{"after":"2026-01-02T00:00:00Z","id":"a"}`, "é ünïcode / + =", strings.Repeat("z", 500)} {
		enc := EncodeCursor(v)
		if strings.ContainsAny(enc, "+/=") {
			t.Fatalf("cursor %q is not URL-safe", enc)
		}
		got, err := DecodeCursor(enc)
		if err != nil || got != v {
			t.Fatalf("DecodeCursor(EncodeCursor(%q)) = %q, %v", v, got, err)
		}
	}
	if EncodeCursor("") != "" {
		t.Fatal(`EncodeCursor("") must be ""`)
	}
	if v, err := DecodeCursor(""); v != "" || err != nil {
		t.Fatalf(`DecodeCursor("") = %q, %v`, v, err)
	}
	for _, bad := range []string{"!", EncodeCursor("x") + "=", strings.Repeat("A", 2000), base64.RawURLEncoding.EncodeToString([]byte("c1:")),
		base64.RawURLEncoding.EncodeToString([]byte("c1:\xff"))} {
		if _, err := DecodeCursor(bad); err == nil {
			t.Fatalf("DecodeCursor(%q) accepted", bad)
		}
	}
}

func TestListResponseJSON(t *testing.T) {
	t.Parallel()
	type item struct {
		ID string `json:"id"`
	}
	next := "abc"
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"nil items", ListResponse[item]{}, `{"items":[],"next_cursor":null}`},
		{"nil items by pointer", &ListResponse[item]{}, `{"items":[],"next_cursor":null}`},
		{"empty items", ListResponse[item]{Items: []item{}}, `{"items":[],"next_cursor":null}`},
		{"items and cursor", ListResponse[item]{Items: []item{{"1"}}, NextCursor: &next}, `{"items":[{"id":"1"}],"next_cursor":"abc"}`},
		{"constructor last page", NewListResponse[item](nil, ""), `{"items":[],"next_cursor":null}`},
		{"constructor with next", NewListResponse([]item{{"1"}}, EncodeCursor("pos-2")), `{"items":[{"id":"1"}],"next_cursor":"` + EncodeCursor("pos-2") + `"}`},
		{"nested in a struct", struct {
			L ListResponse[string] `json:"l"`
		}{}, `{"l":{"items":[],"next_cursor":null}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.v)
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %s (%v), want %s", got, err, tt.want)
			}
		})
	}

	// Through gin's renderer as handlers will use it.
	r := apiTestEngine()
	r.GET("/l", func(c *gin.Context) { c.JSON(http.StatusOK, NewListResponse[item](nil, "")) })
	rec := apiTestDo(r, httptest.NewRequest(http.MethodGet, "/l", nil))
	if rec.Body.String() != `{"items":[],"next_cursor":null}` {
		t.Fatalf("gin rendered %s", rec.Body)
	}
}

func TestParsePageCursorDecodes(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.TestMode)
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodGet, "/x?limit=2&cursor="+EncodeCursor("2026-01-02T00:00:00Z|id-9"), nil)
	p, err := ParsePage(c)
	if err != nil {
		t.Fatal(err)
	}
	v, err := DecodeCursor(p.Cursor)
	if err != nil || v != "2026-01-02T00:00:00Z|id-9" || p.Limit != 2 {
		t.Fatalf("page %+v, decoded %q, %v", p, v, err)
	}
}
