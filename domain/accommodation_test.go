package domain

import (
	"errors"
	"testing"
	"time"
)

func TestStudentDeadline(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	closes := t0.Add(2 * time.Hour)
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	cases := []struct {
		name     string
		closesAt *time.Time
		limit    int
		acc      *Accommodation
		start    time.Duration
		want     *time.Time
	}{
		{"no limit, no close", nil, 0, nil, 0, nil},
		{"limit only", nil, 3600, nil, 0, at(time.Hour)},
		{"close only, with extra", &closes, 0, &Accommodation{ExtraSeconds: 600, TimeMultiplier: 1}, 0, at(2*time.Hour + 10*time.Minute)},
		{"limit x1.5 + extra", nil, 3600, &Accommodation{ExtraSeconds: 60, TimeMultiplier: 1.5}, 0, at(90*time.Minute + time.Minute)},
		{"the earlier term wins: close + extra", &closes, 3600, &Accommodation{ExtraSeconds: 0, TimeMultiplier: 4}, 30 * time.Minute, at(2 * time.Hour)},
		{"the earlier term wins: limit", &closes, 3600, &Accommodation{ExtraSeconds: 300, TimeMultiplier: 1}, 0, at(65 * time.Minute)},
		{"whole seconds: 61 s x1.5 = 92 s", nil, 61, &Accommodation{TimeMultiplier: 1.5}, 0, at(92 * time.Second)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &Exam{ID: "e1", ClosesAt: c.closesAt, TimeLimitSeconds: c.limit}
			if c.acc != nil {
				e.Accommodations = map[string]Accommodation{"s1": *c.acc}
			}
			got := e.StudentDeadline("s1", t0.Add(c.start))
			if (got == nil) != (c.want == nil) || (got != nil && !got.Equal(*c.want)) {
				t.Fatalf("deadline %v, want %v", got, c.want)
			}
			if other := e.StudentDeadline("s2", t0.Add(c.start)); c.acc != nil && other != nil && got != nil && other.Equal(*got) && c.acc.ExtraSeconds > 0 {
				t.Fatalf("another student got the accommodation: %v", other)
			}
		})
	}
}

func TestAccommodationDecisions(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	doctor := Actor{ID: "d1", Role: RoleDoctor}
	student := &User{ID: "s1", Role: RoleStudent, LevelID: "L1"}
	e := &Exam{ID: "e1", LevelID: "L1", OwnerID: "d1", Status: StatusOpen}

	if _, err := e.SetAccommodation(Actor{ID: "d2", Role: RoleDoctor}, student, 60, 1, t0); !errors.Is(err, ErrForbidden) {
		t.Fatalf("another doctor: %v", err)
	}
	if _, err := e.SetAccommodation(doctor, &User{ID: "s9", Role: RoleStudent, LevelID: "L2"}, 60, 1, t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other level: %v", err)
	}
	for _, bad := range []struct {
		extra int
		mult  float64
	}{{-1, 1}, {0, 0.99}, {0, 4.01}, {MaxExtraSeconds + 1, 1}} {
		var ve *ValidationError
		if _, err := e.SetAccommodation(doctor, student, bad.extra, bad.mult, t0); !errors.As(err, &ve) {
			t.Fatalf("extra %d mult %v: %v, want a validation error", bad.extra, bad.mult, err)
		}
	}
	evs, err := e.SetAccommodation(doctor, student, 600, 2, t0)
	if err != nil || len(evs) != 1 || evs[0].Type != TypeAccommodationSet {
		t.Fatalf("set: %v %v", evs, err)
	}
	shared := *e
	e.Apply(e.Version+1, evs[0].Data)
	if acc, ok := e.AccommodationFor("s1"); !ok || acc.ExtraSeconds != 600 || acc.TimeMultiplier != 2 {
		t.Fatalf("folded accommodation %+v %v", acc, ok)
	}
	if shared.Accommodations != nil {
		t.Fatal("folding wrote into a map another copy of the exam shares")
	}
	if evs, err := e.RemoveAccommodation(doctor, &User{ID: "s2", Role: RoleStudent, LevelID: "L1"}, t0); err != nil || len(evs) != 0 {
		t.Fatalf("removing none: %v %v", evs, err)
	}
	closed := *e
	closed.Status = StatusClosed
	if _, err := closed.SetAccommodation(doctor, student, 60, 1, t0); !errors.Is(err, ErrExamNotOpen) {
		t.Fatalf("closed exam: %v", err)
	}
}

func TestCloseIfDueWithAccommodations(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	closes := t0.Add(time.Hour)
	e := &Exam{ID: "e1", Status: StatusOpen, ClosesAt: &closes,
		Accommodations: map[string]Accommodation{"s1": {ExtraSeconds: 600, TimeMultiplier: 1}}}
	started := &Attempt{ID: "a1", StudentID: "s1", Status: AttemptInProgress, StartedAt: t0}

	if evs := e.CloseIfDueWith(closes.Add(time.Minute), map[string]*Attempt{"s1": started}); len(evs) != 0 {
		t.Fatalf("closed while s1 works: %v", evs)
	}
	if evs := e.CloseIfDueWith(closes.Add(time.Minute), nil); len(evs) != 0 {
		t.Fatal("closed while s1 may still start")
	}
	evs := e.CloseIfDueWith(closes.Add(11*time.Minute), map[string]*Attempt{"s1": started})
	if len(evs) != 1 || !evs[0].Data.(*ExamClosed).ClosedAt.Equal(closes.Add(10*time.Minute)) {
		t.Fatalf("close after s1's deadline: %+v", evs)
	}
	sub := t0.Add(61 * time.Minute)
	done := &Attempt{ID: "a1", StudentID: "s1", Status: AttemptSubmittedS, StartedAt: t0, SubmittedAt: &sub}
	evs = e.CloseIfDueWith(closes.Add(2*time.Minute), map[string]*Attempt{"s1": done})
	if len(evs) != 1 || !evs[0].Data.(*ExamClosed).ClosedAt.Equal(sub) {
		t.Fatalf("close once s1 submitted: %+v", evs)
	}
}
