package api

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// Page sizes of list endpoints.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// Page is a parsed ?limit=&cursor= pair. Cursor is the opaque cursor as the
// client sent it (already checked to be one EncodeCursor made), "" for the
// first page; get the plain value with DecodeCursor(page.Cursor).
type Page struct {
	Limit  int
	Cursor string
}

// ParsePage reads ?limit= (default 50, also when empty; else 1..500) and
// ?cursor= (opaque, from a previous response's next_cursor). Problems with
// either are reported together as 400 validation_failed with details
// {"fields": {"limit": ..., "cursor": ...}} (an *APIError).
//
// The cursor is only checked to be one we encoded; whether its decoded value
// makes sense (a valid position, the same filters) is the handler's to check,
// answering domain.NewValidationError(map[string]string{"cursor": "invalid
// cursor"}) when it does not.
func ParsePage(c *gin.Context) (Page, error) {
	p := Page{Limit: DefaultPageLimit}
	fields := map[string]string{}
	if raw, ok := c.GetQuery("limit"); ok && raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > MaxPageLimit {
			fields["limit"] = "must be an integer between 1 and " + strconv.Itoa(MaxPageLimit)
		} else {
			p.Limit = n
		}
	}
	if raw := c.Query("cursor"); raw != "" {
		if _, err := DecodeCursor(raw); err != nil {
			fields["cursor"] = "invalid cursor"
		} else {
			p.Cursor = raw
		}
	}
	if len(fields) > 0 {
		return Page{}, validationFailed(fields)
	}
	return p, nil
}

// cursorPrefix versions the cursor format, and lets DecodeCursor tell our
// cursors from arbitrary base64.
const cursorPrefix = "c1:"

// maxCursorLength bounds what DecodeCursor accepts (encoded length).
const maxCursorLength = 1024

// EncodeCursor makes an opaque cursor of v (unpadded base64url of a
// versioned plain string). EncodeCursor("") is "": no further page.
func EncodeCursor(v string) string {
	if v == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + v))
}

// DecodeCursor returns the value given to EncodeCursor. "" decodes to "".
// Anything we did not produce is 400 validation_failed on field "cursor".
func DecodeCursor(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	invalid := validationFailed(map[string]string{"cursor": "invalid cursor"})
	if len(s) > maxCursorLength {
		return "", invalid
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || !utf8.Valid(b) {
		return "", invalid
	}
	v, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok || v == "" {
		return "", invalid
	}
	return v, nil
}

// ListResponse is the contract's list shape:
// {"items": [...], "next_cursor": "..." | null}. Items always encode as an
// array, never null.
type ListResponse[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// NewListResponse builds a page of items. nextCursor is the opaque cursor of
// the following page, as returned by EncodeCursor; "" means this is the last
// page (next_cursor null).
func NewListResponse[T any](items []T, nextCursor string) ListResponse[T] {
	r := ListResponse[T]{Items: items}
	if nextCursor != "" {
		r.NextCursor = &nextCursor
	}
	return r
}

// MarshalJSON writes nil Items as [].
func (r ListResponse[T]) MarshalJSON() ([]byte, error) {
	items := r.Items
	if items == nil {
		items = []T{}
	}
	return json.Marshal(struct {
		Items      []T     `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}{items, r.NextCursor})
}
