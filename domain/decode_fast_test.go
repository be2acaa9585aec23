package domain

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The fast answer_saved decoder must agree with encoding/json on everything
// it accepts, and refuse (ok=false, so DecodeEvent falls back) everything
// else.

// jsonAnswerSaved is the reference: what encoding/json makes of data.
func jsonAnswerSaved(data []byte) (*AnswerSaved, error) {
	var p AnswerSaved
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// diffAnswerSaved describes how got differs from want; "" when they are the
// same, down to nil versus empty choices and the time's location.
func diffAnswerSaved(got, want *AnswerSaved) string {
	var d []string
	for _, f := range []struct{ name, got, want string }{
		{"AttemptID", got.AttemptID, want.AttemptID},
		{"ExamID", got.ExamID, want.ExamID},
		{"StudentID", got.StudentID, want.StudentID},
		{"QuestionID", got.QuestionID, want.QuestionID},
	} {
		if f.got != f.want {
			d = append(d, fmt.Sprintf("%s = %q, want %q", f.name, f.got, f.want))
		}
	}
	if (got.Choices == nil) != (want.Choices == nil) || !slices.Equal(got.Choices, want.Choices) {
		d = append(d, fmt.Sprintf("Choices = %#v, want %#v", got.Choices, want.Choices))
	}
	if !got.SavedAt.Equal(want.SavedAt) {
		d = append(d, fmt.Sprintf("SavedAt = %v, want %v", got.SavedAt, want.SavedAt))
	}
	gotZone, gotOffset := got.SavedAt.Zone()
	wantZone, wantOffset := want.SavedAt.Zone()
	if got.SavedAt.Location().String() != want.SavedAt.Location().String() || gotZone != wantZone || gotOffset != wantOffset {
		d = append(d, fmt.Sprintf("SavedAt location %s (%s %+d), want %s (%s %+d)",
			got.SavedAt.Location(), gotZone, gotOffset, want.SavedAt.Location(), wantZone, wantOffset))
	}
	if len(d) == 0 && !reflect.DeepEqual(got, want) {
		d = append(d, fmt.Sprintf("not DeepEqual: %#v, want %#v", got, want))
	}
	return strings.Join(d, "; ")
}

func marshalAnswerSaved(tb testing.TB, p AnswerSaved) []byte {
	tb.Helper()
	data, err := json.Marshal(&p)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

var fastSample = AnswerSaved{
	AttemptID:  "5f1c0e2a-9b1d-4c3e-8a7f-0d2b6e4c1a90",
	ExamID:     "0b7d2c4e-6f81-4a93-b5c7-d9e1f2a3b4c5",
	StudentID:  "a1b2c3d4-e5f6-4789-8abc-def012345678",
	QuestionID: "9e8d7c6b-5a49-4382-9170-fedcba987654",
	Choices:    []string{"a", "c"},
	SavedAt:    time.Date(2026, 11, 25, 19, 30, 0, 123456789, time.UTC),
}

// answerSavedAccepted are payloads the fast path must take: what the producer
// writes, and what a normalising store may give back.
func answerSavedAccepted(tb testing.TB) map[string][]byte {
	with := func(f func(p *AnswerSaved)) []byte {
		p := fastSample
		p.Choices = slices.Clone(p.Choices)
		f(&p)
		return marshalAnswerSaved(tb, p)
	}
	indented, err := json.MarshalIndent(&fastSample, "", "\t")
	if err != nil {
		tb.Fatal(err)
	}
	return map[string][]byte{
		"marshalled":    marshalAnswerSaved(tb, fastSample),
		"one choice":    with(func(p *AnswerSaved) { p.Choices = []string{"true"} }),
		"empty choices": with(func(p *AnswerSaved) { p.Choices = []string{} }),
		"nil choices":   with(func(p *AnswerSaved) { p.Choices = nil }),
		"three choices": with(func(p *AnswerSaved) { p.Choices = []string{"a", "b", "d"} }),
		"many choices":  with(func(p *AnswerSaved) { p.Choices = strings.Split("a,b,c,d,e,f,g,h,i,j,k,l", ",") }),
		"empty strings": with(func(p *AnswerSaved) { *p = AnswerSaved{Choices: []string{""}, SavedAt: p.SavedAt} }),
		"unicode": with(func(p *AnswerSaved) {
			p.AttemptID, p.QuestionID, p.Choices = "élève-日本-🎓", "ß", []string{"ñ", "€"}
		}),
		"whole second":        with(func(p *AnswerSaved) { p.SavedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }),
		"millisecond":         with(func(p *AnswerSaved) { p.SavedAt = time.Date(2026, 1, 2, 3, 4, 5, 120e6, time.UTC) }),
		"leap day":            with(func(p *AnswerSaved) { p.SavedAt = time.Date(2028, 2, 29, 23, 59, 59, 999999999, time.UTC) }),
		"year zero":           with(func(p *AnswerSaved) { p.SavedAt = time.Date(0, 1, 1, 0, 0, 0, 1, time.UTC) }),
		"year 9999":           with(func(p *AnswerSaved) { p.SavedAt = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC) }),
		"zero time":           with(func(p *AnswerSaved) { p.SavedAt = time.Time{} }),
		"offset time":         with(func(p *AnswerSaved) { p.SavedAt = p.SavedAt.In(time.FixedZone("", 2*3600+30*60)) }),
		"negative offset":     with(func(p *AnswerSaved) { p.SavedAt = p.SavedAt.In(time.FixedZone("X", -5*3600)) }),
		"indented":            indented,
		"fraction trailing 0": []byte(`{"attempt_id":"a","exam_id":"e","student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25T19:30:00.500Z"}`),
		"fraction 10 digits":  []byte(`{"attempt_id":"a","exam_id":"e","student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25T19:30:00.1234567891Z"}`),
		"+00:00":              []byte(`{"attempt_id":"a","exam_id":"e","student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25T19:30:00+00:00"}`),
		"jsonb":               []byte(`{"exam_id": "e", "choices": ["a", "b"], "saved_at": "2026-11-25T19:30:00.123456Z", "attempt_id": "a", "student_id": "s", "question_id": "q"}`),
		"spaces everywhere":   []byte(" \r\n\t{ \"attempt_id\" : \"a\" , \"exam_id\" :\"e\",\"student_id\":\"s\",\"question_id\":\"q\",\"choices\":[ ],\"saved_at\":\"2026-11-25T19:30:00Z\" } \n"),
		"choices null spaced": []byte(`{"choices" : null , "attempt_id":"a","exam_id":"e","student_id":"s","question_id":"q","saved_at":"2026-11-25T19:30:00Z"}`),
		"DEL and quote-like":  []byte("{\"attempt_id\":\"a\x7f'/<>&\",\"exam_id\":\"e\",\"student_id\":\"s\",\"question_id\":\"q\",\"choices\":[\"a\"],\"saved_at\":\"2026-11-25T19:30:00Z\"}"),
	}
}

// answerSavedRefused are payloads the fast path must hand to encoding/json:
// some of them encoding/json accepts, the rest it rejects.
func answerSavedRefused() map[string]string {
	const tail = `"student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25T19:30:00Z"}`
	const head = `{"attempt_id":"a","exam_id":"e",`
	base := head + tail
	return map[string]string{
		"empty":                "",
		"spaces":               "   ",
		"null":                 "null",
		"empty object":         "{}",
		"array":                "[" + base + "]",
		"escaped id":           `{"attempt_id":"a\"b","exam_id":"e",` + tail,
		"unicode escape":       `{"attempt_id":"\u00e9","exam_id":"e",` + tail,
		"escaped slash":        `{"attempt_id":"a\/b","exam_id":"e",` + tail,
		"escaped choice":       head + `"student_id":"s","question_id":"q","choices":["\u0061"],"saved_at":"2026-11-25T19:30:00Z"}`,
		"escaped key":          `{"attempt\u005fid":"a","exam_id":"e",` + tail,
		"key case":             `{"Attempt_ID":"a","exam_id":"e",` + tail,
		"unknown field":        `{"attempt_id":"a","exam_id":"e","extra":1,` + tail,
		"duplicate field":      `{"attempt_id":"a","attempt_id":"b","exam_id":"e",` + tail,
		"duplicate choices":    head + `"student_id":"s","question_id":"q","choices":["a"],"choices":["b"],"saved_at":"2026-11-25T19:30:00Z"}`,
		"missing field":        `{"attempt_id":"a",` + tail,
		"missing saved_at":     head + `"student_id":"s","question_id":"q","choices":["a"]}`,
		"null id":              `{"attempt_id":null,"exam_id":"e",` + tail,
		"number id":            `{"attempt_id":1,"exam_id":"e",` + tail,
		"bool id":              `{"attempt_id":true,"exam_id":"e",` + tail,
		"number choice":        head + `"student_id":"s","question_id":"q","choices":[1],"saved_at":"2026-11-25T19:30:00Z"}`,
		"null choice":          head + `"student_id":"s","question_id":"q","choices":["a",null],"saved_at":"2026-11-25T19:30:00Z"}`,
		"nested choice":        head + `"student_id":"s","question_id":"q","choices":[["a"]],"saved_at":"2026-11-25T19:30:00Z"}`,
		"choices string":       head + `"student_id":"s","question_id":"q","choices":"a","saved_at":"2026-11-25T19:30:00Z"}`,
		"choices nul":          head + `"student_id":"s","question_id":"q","choices":nul,"saved_at":"2026-11-25T19:30:00Z"}`,
		"choices nullx":        head + `"student_id":"s","question_id":"q","choices":nullx,"saved_at":"2026-11-25T19:30:00Z"}`,
		"choices trailing ,":   head + `"student_id":"s","question_id":"q","choices":["a",],"saved_at":"2026-11-25T19:30:00Z"}`,
		"choices leading ,":    head + `"student_id":"s","question_id":"q","choices":[,"a"],"saved_at":"2026-11-25T19:30:00Z"}`,
		"choices no comma":     head + `"student_id":"s","question_id":"q","choices":["a" "b"],"saved_at":"2026-11-25T19:30:00Z"}`,
		"object trailing ,":    head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25T19:30:00Z",}`,
		"object no comma":      `{"attempt_id":"a" "exam_id":"e",` + tail,
		"no colon":             `{"attempt_id" "a","exam_id":"e",` + tail,
		"null time":            head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":null}`,
		"number time":          head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":0}`,
		"empty time":           head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":""}`,
		"Feb 30":               head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-02-30T19:30:00Z"}`,
		"Feb 29 non-leap":      head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":"2100-02-29T19:30:00Z"}`,
		"hour 24":              head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25T24:00:00Z"}`,
		"second 60":            head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25T23:59:60Z"}`,
		"month 13":             head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-13-25T19:30:00Z"}`,
		"lowercase z":          head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25T19:30:00z"}`,
		"lowercase t":          head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25t19:30:00Z"}`,
		"space for T":          head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25 19:30:00Z"}`,
		"no zone":              head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25T19:30:00"}`,
		"empty fraction":       head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25T19:30:00.Z"}`,
		"escaped time":         head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25T19:30:00\u002e5Z"}`,
		"date only":            head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25"}`,
		"signed year":          head + `"student_id":"s","question_id":"q","choices":["a"],"saved_at":"+026-11-25T19:30:00Z"}`,
		"trailing garbage":     base + "x",
		"trailing object":      base + "{}",
		"trailing brace":       base + "}",
		"raw newline in id":    "{\"attempt_id\":\"a\nb\",\"exam_id\":\"e\"," + tail,
		"raw NUL in id":        "{\"attempt_id\":\"a\x00b\",\"exam_id\":\"e\"," + tail,
		"invalid UTF-8":        "{\"attempt_id\":\"a\xffb\",\"exam_id\":\"e\"," + tail,
		"surrogate UTF-8":      "{\"attempt_id\":\"\xed\xa0\x80\",\"exam_id\":\"e\"," + tail,
		"truncated UTF-8":      "{\"attempt_id\":\"\xe6\x97\",\"exam_id\":\"e\"," + tail,
		"non-JSON space":       "{\f\"attempt_id\":\"a\",\"exam_id\":\"e\"," + tail,
		"NBSP":                 "\u00a0" + base,
		"BOM":                  "\ufeff" + base,
		"unterminated":         `{"attempt_id":"a`,
		"unterminated choices": head + `"student_id":"s","question_id":"q","choices":["a"`,
	}
}

func TestDecodeAnswerSavedFastAccepts(t *testing.T) {
	for name, data := range answerSavedAccepted(t) {
		t.Run(name, func(t *testing.T) {
			want, err := jsonAnswerSaved(data)
			if err != nil {
				t.Fatalf("encoding/json rejects the sample %s: %v", data, err)
			}
			got, ok := decodeAnswerSavedFast(data)
			if !ok {
				t.Fatalf("fast path refused %s", data)
			}
			if d := diffAnswerSaved(got, want); d != "" {
				t.Errorf("%s:\n%s", data, d)
			}
			viaEvent, err := DecodeEvent(TypeAnswerSaved, data)
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if d := diffAnswerSaved(viaEvent.(*AnswerSaved), want); d != "" {
				t.Errorf("DecodeEvent %s:\n%s", data, d)
			}
		})
	}
}

func TestDecodeAnswerSavedFastRefuses(t *testing.T) {
	for name, data := range answerSavedRefused() {
		t.Run(name, func(t *testing.T) {
			if got, ok := decodeAnswerSavedFast([]byte(data)); ok {
				t.Fatalf("fast path took %q: %+v", data, got)
			}
			// The fallback then decides, exactly as before the fast path.
			want, jerr := jsonAnswerSaved([]byte(data))
			got, err := DecodeEvent(TypeAnswerSaved, []byte(data))
			switch {
			case jerr != nil && err == nil:
				t.Fatalf("DecodeEvent accepted %q, encoding/json: %v", data, jerr)
			case jerr == nil && err != nil:
				t.Fatalf("DecodeEvent(%q): %v, encoding/json accepts it", data, err)
			case jerr == nil:
				if d := diffAnswerSaved(got.(*AnswerSaved), want); d != "" {
					t.Errorf("%q:\n%s", data, d)
				}
			}
		})
	}
}

// Every prefix of a good payload but the whole is refused, and never panics.
func TestDecodeAnswerSavedFastTruncated(t *testing.T) {
	for _, name := range []string{"marshalled", "jsonb", "many choices"} {
		data := answerSavedAccepted(t)[name]
		for n := range len(data) {
			if _, ok := decodeAnswerSavedFast(data[:n]); ok {
				t.Errorf("fast path took the truncated %q", data[:n])
			}
		}
	}
}

// The decoded strings own no part of the input buffer, and decoded choices
// share nothing between two payloads.
func TestDecodeAnswerSavedFastDoesNotAliasInput(t *testing.T) {
	data := marshalAnswerSaved(t, fastSample)
	got, ok := decodeAnswerSavedFast(data)
	if !ok {
		t.Fatal("fast path refused the sample")
	}
	for i := range data {
		data[i] = 'x'
	}
	want := fastSample
	if d := diffAnswerSaved(got, &want); d != "" {
		t.Errorf("after overwriting the input: %s", d)
	}
	// Appending to one choice slice must not touch another decode's.
	got.Choices = append(got.Choices, "z")
	again, _ := decodeAnswerSavedFast(marshalAnswerSaved(t, fastSample))
	if !slices.Equal(again.Choices, fastSample.Choices) {
		t.Errorf("choices = %q, want %q", again.Choices, fastSample.Choices)
	}
}

// DecodeEvent takes the fast path for a producer's payload: three
// allocations (the payload, its choices, one string holding every id and
// choice) instead of encoding/json's dozen.
func TestDecodeEventAnswerSavedAllocations(t *testing.T) {
	data := marshalAnswerSaved(t, fastSample)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := DecodeEvent(TypeAnswerSaved, data); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 {
		t.Errorf("DecodeEvent(answer_saved) makes %v allocations, want at most 3", allocs)
	}
}

// FuzzDecodeAnswerSavedFast is differential: whenever the fast path says ok,
// encoding/json must accept the payload and produce the same value; and
// DecodeEvent must always agree with encoding/json.
//
//	go test -run '^$' -fuzz FuzzDecodeAnswerSavedFast -fuzztime 2m ./domain
func FuzzDecodeAnswerSavedFast(f *testing.F) {
	for _, data := range answerSavedAccepted(f) {
		f.Add(data)
	}
	for _, data := range answerSavedRefused() {
		f.Add([]byte(data))
	}
	escaped := fastSample
	escaped.AttemptID, escaped.Choices = `<a href="x">&amp;</a>`+"\u2028\t\\", []string{"\"", "\x01", "é"}
	f.Add(marshalAnswerSaved(f, escaped))
	invalid := fastSample
	invalid.StudentID = "\xff\xfe" // marshalled as \ufffd escapes
	f.Add(marshalAnswerSaved(f, invalid))
	local := fastSample
	local.SavedAt = time.Date(2026, 6, 1, 12, 0, 0, 5, time.Local)
	f.Add(marshalAnswerSaved(f, local))
	f.Add([]byte(`{"saved_at":"2026-11-25T19:30:00,5Z","choices":["a"],"question_id":"q","student_id":"s","exam_id":"e","attempt_id":"a"}`))
	f.Add([]byte(`{"attempt_id":"a","exam_id":"e","student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25T19:30:00.123456789+23:59"}`))
	f.Add([]byte(`{"attempt_id":"a","exam_id":"e","student_id":"s","question_id":"q","choices":["a"],"saved_at":"2026-11-25T9:30:00Z"}`))

	f.Fuzz(checkAnswerSavedDecode)
}

// FuzzDecodeAnswerSavedFastFields puts fuzzed text verbatim inside the
// strings of a producer-shaped payload, so that the paths the fast decoder
// accepts (ids, choices, times) are explored as much as its refusals.
func FuzzDecodeAnswerSavedFastFields(f *testing.F) {
	for _, at := range []string{
		"2026-11-25T19:30:00.123456789Z", "2026-11-25T19:30:00Z", "2026-11-25T19:30:00.1Z",
		"2026-11-25T19:30:00.1234567890Z", "2026-11-25T19:30:00+01:00", "2026-11-25T19:30:00-00:00",
		"2028-02-29T00:00:00Z", "2026-02-29T00:00:00Z", "0000-01-01T00:00:00Z", "0000-02-29T12:00:00Z",
		"9999-12-31T23:59:59.999999999Z", "2026-11-25T19:30:60Z", "2026-11-25T19:30:00,5Z",
		"2026-11-25T19:30:00.Z", "2026-1-25T19:30:00Z", "2026-11-25T19:30:00.12345678Z ",
	} {
		f.Add("5f1c0e2a-9b1d-4c3e-8a7f-0d2b6e4c1a90", "a", "c", at, byte(2))
	}
	f.Add("élève", "日本", "", "2026-11-25T19:30:00Z", byte(1))
	f.Add(`a\"b`, `\u0061`, "\x7f", "2026-11-25T19:30:00Z", byte(2))
	f.Add("\xff", "\xed\xa0\x80", "\t", "2026-11-25T19:30:00Z", byte(0))
	f.Fuzz(func(t *testing.T, id, c1, c2, savedAt string, n byte) {
		var choices string
		switch n % 4 {
		case 1:
			choices = `["` + c1 + `"]`
		case 2:
			choices = `["` + c1 + `","` + c2 + `"]`
		case 3:
			choices = "null"
		default:
			choices = "[]"
		}
		checkAnswerSavedDecode(t, []byte(`{"attempt_id":"`+id+`","exam_id":"e","student_id":"`+c2+
			`","question_id":"q","choices":`+choices+`,"saved_at":"`+savedAt+`"}`))
	})
}

// checkAnswerSavedDecode is the differential check of both fuzz targets.
func checkAnswerSavedDecode(t *testing.T, data []byte) {
	want, jerr := jsonAnswerSaved(data)
	fast, ok := decodeAnswerSavedFast(data)
	if ok {
		if jerr != nil {
			t.Fatalf("fast path took %q, encoding/json rejects it: %v", data, jerr)
		}
		if d := diffAnswerSaved(fast, want); d != "" {
			t.Fatalf("fast path on %q:\n%s", data, d)
		}
	}
	got, err := DecodeEvent(TypeAnswerSaved, data)
	switch {
	case jerr != nil && err == nil:
		t.Fatalf("DecodeEvent accepted %q, encoding/json: %v", data, jerr)
	case jerr == nil && err != nil:
		t.Fatalf("DecodeEvent(%q): %v, encoding/json accepts it", data, err)
	case jerr == nil:
		if d := diffAnswerSaved(got.(*AnswerSaved), want); d != "" {
			t.Fatalf("DecodeEvent on %q:\n%s", data, d)
		}
	}
}

// BenchmarkDecodeAnswerSaved compares the fast path with encoding/json on
// one producer payload.
func BenchmarkDecodeAnswerSaved(b *testing.B) {
	data := marshalAnswerSaved(b, fastSample)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, ok := decodeAnswerSavedFast(data); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := jsonAnswerSaved(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
