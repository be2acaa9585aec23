package api

import (
	"encoding/json"
	"reflect"
)

// idNumber is a student's id number as clients send it: a JSON string (kept
// as it is, leading zeros included), or a JSON integer, kept as its decimal
// digits exactly as written (clients of the seed system, which stored it as
// an integer, send numbers; going through a float would round long ones).
// Anything else (a fraction, an exponent, a sign, true) is refused with
// the field named.
type idNumber string

func (n *idNumber) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil // as for a plain string: absent
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = idNumber(s)
		return nil
	}
	if !allDigits(b) {
		kind := "number"
		switch {
		case len(b) == 0:
		case b[0] == 't' || b[0] == 'f':
			kind = "bool"
		case b[0] == '{':
			kind = "object"
		case b[0] == '[':
			kind = "array"
		}
		// Named like the decoder's own type errors, so the field is
		// reported: details.fields.id_number = "must be a string".
		return &json.UnmarshalTypeError{Value: kind + " " + string(b), Type: reflect.TypeFor[string]()}
	}
	*n = idNumber(b)
	return nil
}

func allDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ptr is the id number as an optional string (nil when absent).
func (n *idNumber) ptr() *string {
	if n == nil {
		return nil
	}
	s := string(*n)
	return &s
}
