package domain

import (
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// samplePayloads holds one fully populated payload per event type. A type
// added to the catalogue without a sample here fails TestEventRoundTrip.
func samplePayloads() map[string]any {
	at := time.Date(2030, 3, 1, 9, 30, 15, 123456789, time.UTC)
	later := at.Add(time.Hour)
	q := Question{ID: "q1", Text: "2 + 2 = ?", Kind: KindSingle, Choices: []Choice{{Key: "a", Text: "3"}, {Key: "b", Text: "4"}},
		Correct: []string{"b"}, Points: 1.5, NegativePoints: 0.25, ImageID: "img-1"}
	prev := 2.5
	name, level, idn, subj := "New Name", "level-2", "2024-9", "Physics"
	return map[string]any{
		TypeExamDrafted: &ExamDrafted{ExamID: "e1", Title: "T", Description: "D", LevelID: "l1", OwnerID: "d1",
			OpensAt: &at, ClosesAt: &later, TimeLimitSeconds: 600, ShuffleQuestions: true, ShuffleChoices: true, Questions: []Question{q}, CreatedAt: at},
		TypeExamUpdated: &ExamUpdated{ExamID: "e1", Title: "T2", Description: "D2", LevelID: "l2",
			OpensAt: &at, ClosesAt: &later, TimeLimitSeconds: 60, ShuffleQuestions: true, ShuffleChoices: true, Questions: []Question{q}},
		TypeQuestionAdded:        &QuestionAdded{ExamID: "e1", Question: q},
		TypeQuestionUpdated:      &QuestionUpdated{ExamID: "e1", Question: q},
		TypeQuestionRemoved:      &QuestionRemoved{ExamID: "e1", QuestionID: "q1"},
		TypeExamPublished:        &ExamPublished{ExamID: "e1", Status: StatusScheduled, OpensAt: &at, ClosesAt: &later, PublishedAt: at},
		TypeExamOpened:           &ExamOpened{ExamID: "e1", OpenedAt: at},
		TypeExamClosed:           &ExamClosed{ExamID: "e1", ClosedAt: at, Reason: "schedule"},
		TypeAnswerKeyCorrected:   &AnswerKeyCorrected{ExamID: "e1", QuestionID: "q1", Correct: []string{"a"}, Points: 2, PreviousCorrect: []string{"b"}, PreviousPoints: 1},
		TypeExamGraded:           &ExamGraded{ExamID: "e1", Round: 2, Attempts: 30, Changed: 3, Trigger: "answer_key", GradedAt: at, GradesVersion: 42},
		TypeAccommodationSet:     &AccommodationSet{ExamID: "e1", StudentID: "s1", ExtraSeconds: 600, TimeMultiplier: 1.5, SetAt: at},
		TypeAccommodationRemoved: &AccommodationRemoved{ExamID: "e1", StudentID: "s1", RemovedAt: at},
		TypeAttemptStarted:       &AttemptStarted{AttemptID: "a1", ExamID: "e1", StudentID: "s1", StartedAt: at, Deadline: &later},
		TypeAnswerSaved:          &AnswerSaved{AttemptID: "a1", ExamID: "e1", StudentID: "s1", QuestionID: "q1", Choices: []string{"a", "c"}, SavedAt: at},
		TypeAttemptSubmitted:     &AttemptSubmitted{AttemptID: "a1", ExamID: "e1", StudentID: "s1", SubmittedAt: at},
		TypeAttemptScored: &AttemptScored{ExamID: "e1", AttemptID: "a1", StudentID: "s1", Round: 1, Score: 3.3333, MaxScore: 10, Answered: 4,
			Questions: []QuestionScore{{QuestionID: "q1", Choices: []string{"b"}, PointsAwarded: -0.5}}, GradedAt: at},
		TypeScoreOverridden: &ScoreOverridden{ExamID: "e1", StudentID: "s1", Score: 7, MaxScore: 10, PreviousScore: &prev, Source: "import", OverriddenAt: at},
		TypeUserRegistered: &UserRegistered{UserID: "u1", Email: "a@b.co", FullName: "A B", Role: RoleStudent, LevelID: "l1",
			IDNumber: "1", Subject: "S", RegisteredAt: at},
		TypeUserUpdated:      &UserUpdated{UserID: "u1", FullName: &name, LevelID: &level, IDNumber: &idn, Subject: &subj},
		TypeUserDeactivated:  &UserDeactivated{UserID: "u1"},
		TypeUserReactivated:  &UserReactivated{UserID: "u1"},
		TypePasswordSet:      &PasswordSet{UserID: "u1", PasswordHash: "$argon2id$v=19$..."},
		TypeEmailReserved:    &EmailReserved{Email: "a@b.co", UserID: "u1"},
		TypeEmailReleased:    &EmailReleased{Email: "a@b.co", UserID: "u1"},
		TypeLevelCreated:     &LevelCreated{LevelID: "l1", Name: "Year 1", CreatedAt: at},
		TypeSessionStarted:   &SessionStarted{FamilyID: "f1", UserID: "u1", StartedAt: at, Epoch: 3},
		TypeSessionsRevoked:  &SessionsRevoked{UserID: "u1", Reason: "logout_all"},
		TypeSessionRefreshed: &SessionRefreshed{FamilyID: "f1", Generation: 3},
		TypeSessionRevoked:   &SessionRevoked{FamilyID: "f1", Reason: "reuse"},
		TypeIdempotencyRecorded: &IdempotencyRecorded{KeyHash: "k", RequestHash: "r", Status: 201,
			Body: json.RawMessage(`{"attempt_id":"a1","status":"in_progress"}`)},
		TypeImageUploaded: &ImageUploaded{ImageID: strings.Repeat("ab", 32), ContentType: ImagePNG, Size: 1024, UploadedBy: "d1", UploadedAt: at},
	}
}

// zeroFields lists the exported fields of the struct behind p that hold
// their zero value, so a sample cannot silently skip a field.
func zeroFields(p any) []string {
	v := reflect.ValueOf(p).Elem()
	var out []string
	for i := 0; i < v.NumField(); i++ {
		if v.Type().Field(i).IsExported() && v.Field(i).IsZero() {
			out = append(out, v.Type().Field(i).Name)
		}
	}
	return out
}

func TestEventTypeNames(t *testing.T) {
	types := EventTypes()
	if len(types) != 31 {
		t.Errorf("%d event types, want 31 (update this test and docs/events.md together)", len(types))
	}
	name := regexp.MustCompile(`^[a-z]+\.[a-z_]+\.v[1-9][0-9]*$`)
	seen := map[string]bool{}
	for _, typ := range types {
		if !name.MatchString(typ) {
			t.Errorf("event type %q is not category.name.vN", typ)
		}
		if seen[typ] {
			t.Errorf("event type %q listed twice", typ)
		}
		seen[typ] = true
	}
}

func TestEventRoundTrip(t *testing.T) {
	samples := samplePayloads()
	types := EventTypes()
	slices.Sort(types)
	for _, typ := range types {
		t.Run(typ, func(t *testing.T) {
			sample, ok := samples[typ]
			if !ok {
				t.Fatalf("no sample payload for %s", typ)
			}
			empty, err := NewPayload(typ)
			if err != nil {
				t.Fatal(err)
			}
			if reflect.TypeOf(empty) != reflect.TypeOf(sample) || reflect.TypeOf(empty).Kind() != reflect.Pointer {
				t.Fatalf("NewPayload gives %T, sample is %T", empty, sample)
			}
			if z := zeroFields(empty); len(z) != reflect.TypeOf(empty).Elem().NumField() {
				t.Fatalf("NewPayload is not empty: only %v are zero", z)
			}
			if z := zeroFields(sample); len(z) > 0 {
				t.Fatalf("sample leaves %v empty; fill every field so the round trip covers it", z)
			}
			b, err := json.Marshal(sample)
			if err != nil {
				t.Fatal(err)
			}
			decoded, err := DecodeEvent(typ, b)
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if !reflect.DeepEqual(decoded, sample) {
				t.Fatalf("round trip changed the payload:\n got %+v\nwant %+v\njson %s", decoded, sample, b)
			}
			// Field names on the wire are snake_case, never Go names.
			var obj map[string]any
			if err := json.Unmarshal(b, &obj); err != nil {
				t.Fatal(err)
			}
			for k := range obj {
				if k != strings.ToLower(k) {
					t.Errorf("field %q is not snake_case", k)
				}
			}
			// API.md: exam, attempt and grade events carry exam_id; answer
			// events carry exam_id, student_id, question_id and choices.
			category := strings.SplitN(typ, ".", 2)[0]
			if category == "exam" || category == "attempt" || category == "grade" {
				if _, ok := obj["exam_id"]; !ok {
					t.Errorf("%s has no exam_id", typ)
				}
			}
			if typ == TypeAnswerSaved {
				for _, k := range []string{"exam_id", "student_id", "question_id", "choices"} {
					if _, ok := obj[k]; !ok {
						t.Errorf("answer event has no %s", k)
					}
				}
			}
		})
	}
}

func TestDecodeEventUnknownType(t *testing.T) {
	for _, typ := range []string{"", "exam.drafted", "exam.drafted.v2", "Exam.Drafted.v1", "ExamDrafted", "exam.drafted.v1 "} {
		t.Run("type "+typ, func(t *testing.T) {
			p, err := DecodeEvent(typ, []byte(`{}`))
			if !errors.Is(err, ErrUnknownEventType) || p != nil {
				t.Fatalf("DecodeEvent(%q) = %v, %v; want ErrUnknownEventType", typ, p, err)
			}
			if _, err := NewPayload(typ); !errors.Is(err, ErrUnknownEventType) {
				t.Fatalf("NewPayload(%q) error = %v", typ, err)
			}
		})
	}
}

func TestDecodeEventMalformed(t *testing.T) {
	for name, data := range map[string]string{
		"not json":         `{"exam_id":`,
		"wrong field type": `{"exam_id": 42}`,
		"bad time":         `{"exam_id":"e","closed_at":"yesterday"}`,
		"array not object": `[1,2]`,
		"empty input":      ``,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeEvent(TypeExamClosed, []byte(data))
			if err == nil || errors.Is(err, ErrUnknownEventType) {
				t.Fatalf("error = %v, want a decode error", err)
			}
			if !strings.Contains(err.Error(), TypeExamClosed) {
				t.Fatalf("error %q does not name the event type", err)
			}
		})
	}
}

func TestSensitiveEventTypes(t *testing.T) {
	for _, typ := range EventTypes() {
		want := typ == TypePasswordSet || typ == TypeIdempotencyRecorded
		if got := IsSensitiveEventType(typ); got != want {
			t.Errorf("IsSensitiveEventType(%s) = %v, want %v", typ, got, want)
		}
	}
}

func TestStreamIDs(t *testing.T) {
	for got, want := range map[string]string{
		ExamStream("x"): "exam-x", AttemptStream("x"): "attempt-x", GradesStream("x"): "grades-x", UserStream("x"): "user-x",
		CredentialsStream("x"): "credentials-x", LevelStream("x"): "level-x", SessionStream("x"): "session-x", IdempotencyStream("x"): "idempotency-x",
		ImageStream("x"): "image-x",
	} {
		if got != want {
			t.Errorf("stream id %q, want %q", got, want)
		}
	}
	if s := EmailStream("A@B.co"); !strings.HasPrefix(s, "email-") || len(s) != len("email-")+64 {
		t.Errorf("email stream = %q", s)
	}
}

// ParseStream is the inverse of every stream-id constructor, including ids
// that themselves contain '-' (UUIDs).
func TestParseStream(t *testing.T) {
	const id = "0b6c5e1e-7f55-4c1a-9d8e-2f1f3a4b5c6d"
	for stream, category := range map[string]string{
		ExamStream(id): CategoryExam, AttemptStream(id): CategoryAttempt, GradesStream(id): CategoryGrades, UserStream(id): CategoryUser,
		LevelStream(id): CategoryLevel, SessionStream(id): CategorySession, ImageStream(id): CategoryImage,
	} {
		if c, got := ParseStream(stream); c != category || got != id || StreamEntity(stream) != id {
			t.Errorf("ParseStream(%q) = %q, %q; want %q, %q", stream, c, got, category, id)
		}
	}
	if c, got := ParseStream("nodash"); c != "nodash" || got != "" {
		t.Errorf("ParseStream(nodash) = %q, %q", c, got)
	}
}

// foldEverywhere applies a decoded payload to every aggregate, fresh and
// already populated; Apply must take any payload without panicking.
func foldEverywhere(t testing.TB, p any) {
	e := &Exam{}
	e.Apply(1, &ExamDrafted{ExamID: "e1", Questions: []Question{{ID: "q1", Choices: keyed("a", "b"), Correct: []string{"a"}, Points: 1}}})
	for _, ex := range []*Exam{{}, e} {
		ex.Apply(ex.Version+1, p)
		ex.NeedsGrading()
		ex.MaxScore()
	}
	a := &Attempt{}
	a.Apply(1, &AttemptStarted{AttemptID: "a1"})
	for _, at := range []*Attempt{{}, a} {
		at.Apply(at.Version+1, p)
		at.FinalAnswers(nil)
		GradeAttempt(e, at)
	}
	(&User{}).Apply(1, p)
	(&Session{}).Apply(1, p)
}

func FuzzDecodeEvent(f *testing.F) {
	samples := samplePayloads()
	types := EventTypes()
	slices.Sort(types)
	for _, typ := range types {
		b, err := json.Marshal(samples[typ])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(typ, b)
	}
	f.Add(TypeAnswerSaved, []byte(`{"choices":null,"saved_at":null}`))
	f.Add(TypeExamDrafted, []byte(`{"questions":[null,{"choices":[null]}],"opens_at":null}`))
	f.Add(TypeAttemptStarted, []byte(`{"deadline":"0001-01-01T00:00:00Z"}`))
	f.Add(TypeIdempotencyRecorded, []byte(`{"body":null}`))
	f.Add(TypeExamGraded, []byte(`null`))
	f.Add("no.such.v1", []byte(`{}`))
	f.Add(TypeUserUpdated, []byte(`{"full_name":"\ud800"}`))

	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		p, err := DecodeEvent(typ, data)
		if err != nil {
			if p != nil {
				t.Fatalf("error %v with a payload %T", err, p)
			}
			_, known := samples[typ]
			if errors.Is(err, ErrUnknownEventType) == known {
				t.Fatalf("type %q known=%v but error %v", typ, known, err)
			}
			return
		}
		want, _ := NewPayload(typ)
		if reflect.TypeOf(p) != reflect.TypeOf(want) {
			t.Fatalf("decoded %T for %s, want %T", p, typ, want)
		}
		foldEverywhere(t, p)
		if b, err := json.Marshal(p); err == nil {
			if _, err := DecodeEvent(typ, b); err != nil {
				t.Fatalf("re-encoded payload %s does not decode: %v", b, err)
			}
		}
	})
}
