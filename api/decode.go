package api

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// DecodeJSON strictly decodes the request body, a single JSON value, into
// dst (a non-nil pointer). Problems come back as *APIError, ready for
// WriteError:
//
//	Content-Type not application/json (a charset other than
//	utf-8 is refused too)                         415 unsupported_media_type
//	empty body                                    400 invalid_json
//	body over the limit (BodyLimit, default 1 MiB)  413 payload_too_large
//	malformed JSON, trailing data, a top-level
//	null or a value of the wrong kind at the top  400 invalid_json
//	unknown field (message names it,
//	details {"field": name})                      400 invalid_json
//	a key twice in one object (also when the two
//	differ only in case, as encoding/json matches
//	field names without case; details {"field"})  400 invalid_json
//	wrong type for a field                        400 validation_failed,
//	                                              details {"fields": {"a.b": "must be a string"}}
//	a value rejected by a field's UnmarshalJSON
//	(e.g. a time that is not RFC 3339)            400 invalid_json
//
// The field path uses JSON names joined with "." (array indexes are not
// included). A non-pointer dst is a programming error and is returned as a
// plain error (500 via WriteError).
func DecodeJSON(c *gin.Context, dst any) error {
	if err := checkJSONContentType(c); err != nil {
		return err
	}
	body, err := readLimitedBody(c)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return NewAPIError(http.StatusBadRequest, "invalid_json", "request body is empty")
	}
	return decodeStrict(body, dst)
}

func checkJSONContentType(c *gin.Context) error {
	unsupported := NewAPIError(http.StatusUnsupportedMediaType, "unsupported_media_type",
		"Content-Type must be application/json")
	ct := c.GetHeader("Content-Type")
	if ct == "" {
		return unsupported
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil || mediaType != "application/json" {
		return unsupported
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return unsupported
	}
	return nil
}

// readLimitedBody reads the whole body, at most bodyLimit(c) bytes.
func readLimitedBody(c *gin.Context) ([]byte, error) {
	if c.Request.Body == nil || c.Request.Body == http.NoBody {
		return nil, nil
	}
	limit := bodyLimit(c)
	if c.Request.ContentLength > limit {
		return nil, payloadTooLarge(limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, payloadTooLarge(limit)
		}
		return nil, NewAPIError(http.StatusBadRequest, "invalid_json", "could not read the request body")
	}
	return body, nil
}

func decodeStrict(body []byte, dst any) error {
	if bytes.Equal(bytes.TrimSpace(body), []byte("null")) {
		return NewAPIError(http.StatusBadRequest, "invalid_json", "request body must not be null")
	}
	if err := checkDuplicateKeys(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return NewAPIError(http.StatusBadRequest, "invalid_json", "unexpected data after the JSON value")
	}
	return nil
}

const unknownFieldPrefix = "json: unknown field "

func decodeError(err error) error {
	var (
		syntaxErr    *json.SyntaxError
		typeErr      *json.UnmarshalTypeError
		invalidErr   *json.InvalidUnmarshalError
		timeParseErr *time.ParseError
	)
	switch {
	case errors.As(err, &invalidErr):
		return fmt.Errorf("api: DecodeJSON destination: %w", err)
	case errors.As(err, &syntaxErr):
		return NewAPIError(http.StatusBadRequest, "invalid_json",
			fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return NewAPIError(http.StatusBadRequest, "invalid_json", "malformed JSON: unexpected end of input")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return NewAPIError(http.StatusBadRequest, "invalid_json",
				"request body must be "+expectedKind(typeErr.Type))
		}
		return validationFailed(map[string]string{typeErr.Field: typeReason(typeErr)})
	case strings.HasPrefix(err.Error(), unknownFieldPrefix):
		// encoding/json has no typed error for this; the name is quoted.
		quoted := strings.TrimPrefix(err.Error(), unknownFieldPrefix)
		name := strings.Trim(quoted, `"`)
		return NewAPIError(http.StatusBadRequest, "invalid_json", "unknown field "+quoted).
			WithDetails(map[string]any{"field": name})
	case errors.As(err, &timeParseErr):
		return NewAPIError(http.StatusBadRequest, "invalid_json", "invalid time: expected RFC 3339, e.g. 2026-01-02T15:04:05Z")
	default:
		// Errors of custom UnmarshalJSON methods: their text is not ours to show.
		return NewAPIError(http.StatusBadRequest, "invalid_json", "request body contains an invalid value")
	}
}

func typeReason(e *json.UnmarshalTypeError) string {
	switch e.Type.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		// "number 1e400" or "number 300" (for an int8) is out of range;
		// "number 1.5" is not an integer.
		if n, ok := strings.CutPrefix(e.Value, "number "); ok && !strings.ContainsAny(n, ".eE") {
			return "is out of range"
		}
	case reflect.Float32, reflect.Float64:
		if strings.HasPrefix(e.Value, "number ") {
			return "is out of range"
		}
	}
	return "must be " + expectedKind(e.Type)
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// expectedKind describes a Go type in JSON terms, with its article.
func expectedKind(t reflect.Type) string {
	if t == nil {
		return "a valid value"
	}
	if t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return expectedKind(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return "a base64 string"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	default:
		return "a valid value"
	}
}

// checkDuplicateKeys refuses an object with the same key twice, at any
// depth. encoding/json keeps the last value, so {"password":"a",
// "password":"b"} would check one value where a proxy or log that keeps the
// first saw another. Malformed JSON is left to the decoder's own error.
func checkDuplicateKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	// One set of seen keys per open object; nil for an open array.
	var stack []map[string]struct{}
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF, or a syntax error the real decode reports
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, map[string]struct{}{})
				expectKey = true
				continue
			case '[':
				stack = append(stack, nil)
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
		case string:
			if expectKey {
				seen := stack[len(stack)-1]
				folded := strings.ToLower(t)
				if _, dup := seen[folded]; dup {
					return NewAPIError(http.StatusBadRequest, "invalid_json", fmt.Sprintf("duplicate key %q", t)).
						WithDetails(map[string]any{"field": t})
				}
				seen[folded] = struct{}{}
				expectKey = false
				continue
			}
		}
		// After a value inside an object, the next token is a key.
		expectKey = len(stack) > 0 && stack[len(stack)-1] != nil
	}
}
