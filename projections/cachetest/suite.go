package cachetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/projections"
)

// Cache is the port under test.
type Cache interface {
	Get(ctx context.Context, examID string) (projections.StudentDoc, bool, error)
}

// Harness builds a cache for one test.
type Harness struct {
	// New returns a cache over w: its read side is w (ExamHead and Exam, or
	// read models fed through w.Subscribe), its event store w (LoadExam),
	// its renderer Render. Each call must be independent of the others
	// (e.g. a fresh key prefix), since the cases run in parallel.
	New func(t *testing.T, w *World) Cache
}

// Run runs every case of the suite.
func Run(t *testing.T, h Harness) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"missing exam is not found", testMissing},
		{"draft is not found", testDraft},
		{"published exam has no answer keys", testPublishedWithoutKeys},
		{"level and status are served", testLevelAndStatus},
		{"a change serves the new version", testChangeServesNewVersion},
		{"graded exam has its keys", testGradedWithKeys},
		{"key correction after grading is served", testKeyCorrection},
		{"exam the read model has not seen is served from the store", testReadModelLag},
		{"readers racing changes never see an older version", testRace},
		{"scheduled exam is sealed until it opens", testScheduledSealed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, h)
		})
	}
}

var examSeq atomic.Int64

// newID is unique within the process and across runs, so harnesses that
// share a store (Redis) never see another run's keys.
func newID() string {
	return fmt.Sprintf("exam%d-%d", rand.Uint64(), examSeq.Add(1))
}

// view is what the suite reads back from a document.
type view struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	LevelID string `json:"level_id"`
	Status  string `json:"status"`
	Version int64  `json:"version"`
	// QuestionCount is question_count, kept in a sealed summary.
	QuestionCount int            `json:"question_count"`
	Questions     []viewQuestion `json:"questions"`
}

type viewQuestion struct {
	ID      string          `json:"id"`
	Correct json.RawMessage `json:"correct"`
}

// get fetches and checks the document's inner consistency: the body is the
// rendering of the very version, status and level the doc claims, and it
// carries keys exactly when graded.
func get(t *testing.T, c Cache, id string) (projections.StudentDoc, view, bool) {
	t.Helper()
	doc, found, err := c.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	if !found {
		return doc, view{}, false
	}
	v := checkDoc(t, id, doc)
	return doc, v, true
}

func checkDoc(t *testing.T, id string, doc projections.StudentDoc) view {
	t.Helper()
	var v view
	if err := json.Unmarshal(doc.Body, &v); err != nil {
		t.Fatalf("Get(%s): body is not JSON: %v: %q", id, err, doc.Body)
	}
	if v.ID != id || v.Version != doc.Version || v.Status != string(doc.Status) || v.LevelID != doc.LevelID {
		t.Fatalf("Get(%s): doc says version %d status %q level %q, body says id %q version %d status %q level %q",
			id, doc.Version, doc.Status, doc.LevelID, v.ID, v.Version, v.Status, v.LevelID)
	}
	if doc.Status == domain.StatusScheduled {
		// Sealed: the summary only, never a question's content.
		if len(v.Questions) != 0 || v.QuestionCount != len(questions()) {
			t.Fatalf("Get(%s): scheduled exam not sealed (questions %d, question_count %d): %s", id, len(v.Questions), v.QuestionCount, doc.Body)
		}
		for _, q := range questions() {
			if strings.Contains(string(doc.Body), q.Text) || strings.Contains(string(doc.Body), `"choices"`) || strings.Contains(string(doc.Body), `"text"`) {
				t.Fatalf("Get(%s): scheduled exam leaks question %s: %s", id, q.ID, doc.Body)
			}
		}
		return v
	}
	if len(v.Questions) == 0 {
		t.Fatalf("Get(%s): no questions in %s", id, doc.Body)
	}
	graded := doc.Status == domain.StatusGraded
	if !graded && strings.Contains(string(doc.Body), `"correct"`) {
		t.Fatalf("Get(%s): %s exam leaks an answer key: %s", id, doc.Status, doc.Body)
	}
	for _, q := range v.Questions {
		if graded && len(q.Correct) == 0 {
			t.Fatalf("Get(%s): graded exam lacks the key of %s: %s", id, q.ID, doc.Body)
		}
	}
	return v
}

func testMissing(t *testing.T, h Harness) {
	w := NewWorld()
	c := h.New(t, w)
	if _, _, found := get(t, c, newID()); found {
		t.Fatal("missing exam found")
	}
}

func testDraft(t *testing.T, h Harness) {
	w := NewWorld()
	c := h.New(t, w)
	id := newID()
	w.Draft(id, "L1")
	if _, _, found := get(t, c, id); found {
		t.Fatal("draft found")
	}
	w.Edit(id, "still a draft", "")
	if _, _, found := get(t, c, id); found {
		t.Fatal("edited draft found")
	}
}

func testPublishedWithoutKeys(t *testing.T, h Harness) {
	w := NewWorld()
	c := h.New(t, w)
	id := newID()
	w.Draft(id, "L1")
	v := w.Publish(id)
	for i := range 2 { // a miss, then (for a cache) a hit
		doc, body, found := get(t, c, id)
		if !found {
			t.Fatalf("read %d: published exam not found", i)
		}
		if doc.Version != v {
			t.Fatalf("read %d: version %d, want %d", i, doc.Version, v)
		}
		for _, q := range body.Questions {
			if len(q.Correct) != 0 {
				t.Fatalf("read %d: key of %s served before grading: %s", i, q.ID, doc.Body)
			}
		}
	}
}

func testLevelAndStatus(t *testing.T, h Harness) {
	w := NewWorld()
	c := h.New(t, w)
	id := newID()
	w.Draft(id, "level-a")
	w.Publish(id)
	doc, _, found := get(t, c, id)
	if !found || doc.LevelID != "level-a" || doc.Status != domain.StatusOpen {
		t.Fatalf("got found=%v level %q status %q, want level-a open", found, doc.LevelID, doc.Status)
	}
	w.Edit(id, "moved", "level-b")
	doc, _, found = get(t, c, id)
	if !found || doc.LevelID != "level-b" || doc.Status != domain.StatusOpen {
		t.Fatalf("after move: found=%v level %q status %q, want level-b open", found, doc.LevelID, doc.Status)
	}
	w.Close(id)
	doc, _, found = get(t, c, id)
	if !found || doc.Status != domain.StatusClosed {
		t.Fatalf("after close: found=%v status %q, want closed", found, doc.Status)
	}
}

func testChangeServesNewVersion(t *testing.T, h Harness) {
	w := NewWorld()
	c := h.New(t, w)
	id := newID()
	w.Draft(id, "L1")
	w.Publish(id)
	if _, _, found := get(t, c, id); !found { // cache the first version
		t.Fatal("published exam not found")
	}
	for i := range 3 {
		title := fmt.Sprintf("title %d", i)
		want := w.Edit(id, title, "")
		doc, body, found := get(t, c, id)
		if !found || doc.Version != want || body.Title != title {
			t.Fatalf("edit %d: found=%v version %d title %q, want version %d title %q", i, found, doc.Version, body.Title, want, title)
		}
	}
}

func testGradedWithKeys(t *testing.T, h Harness) {
	w := NewWorld()
	c := h.New(t, w)
	id := newID()
	w.Draft(id, "L1")
	w.Publish(id)
	get(t, c, id)
	w.Close(id)
	doc, _, _ := get(t, c, id)
	if doc.Status != domain.StatusClosed {
		t.Fatalf("status %q, want closed", doc.Status)
	}
	want := w.Grade(id)
	doc, body, found := get(t, c, id)
	if !found || doc.Version != want || doc.Status != domain.StatusGraded {
		t.Fatalf("found=%v version %d status %q, want graded version %d", found, doc.Version, doc.Status, want)
	}
	keys := map[string]string{}
	for _, q := range body.Questions {
		keys[q.ID] = string(q.Correct)
	}
	if keys["q1"] != `["b"]` || keys["q2"] != `["a","c"]` {
		t.Fatalf("graded keys = %v, want q1 [b] and q2 [a c]", keys)
	}
}

func testKeyCorrection(t *testing.T, h Harness) {
	w := NewWorld()
	c := h.New(t, w)
	id := newID()
	w.Draft(id, "L1")
	w.Publish(id)
	w.Close(id)
	w.Grade(id)
	get(t, c, id)
	w.CorrectKey(id, "a")
	doc, body, found := get(t, c, id)
	// Corrected but not regraded: still graded (the domain keeps the
	// status), and the new key is what is served.
	if !found || doc.Version != w.StoreVersion(id) {
		t.Fatalf("found=%v version %d, want %d", found, doc.Version, w.StoreVersion(id))
	}
	if i := slices.IndexFunc(body.Questions, func(q viewQuestion) bool { return q.ID == "q1" }); i < 0 || string(body.Questions[i].Correct) != `["a"]` {
		t.Fatalf("q1 key after correction: %s", doc.Body)
	}
}

func testReadModelLag(t *testing.T, h Harness) {
	w := NewWorld()
	c := h.New(t, w)
	id := newID()
	w.Lag()
	w.Draft(id, "L1")
	if _, _, found := get(t, c, id); found {
		t.Fatal("draft known only to the store found")
	}
	v := w.Publish(id)
	doc, _, found := get(t, c, id)
	if !found || doc.Version != v || doc.Status != domain.StatusOpen {
		t.Fatalf("found=%v version %d status %q, want open version %d from the store", found, doc.Version, doc.Status, v)
	}
	w.CatchUp()
	want := w.Close(id)
	doc, _, found = get(t, c, id)
	if !found || doc.Version != want || doc.Status != domain.StatusClosed {
		t.Fatalf("after catch-up: found=%v version %d status %q, want closed version %d", found, doc.Version, doc.Status, want)
	}
}

// testRace: readers run while a writer edits, closes, grades and corrects
// the exam. Each reader notes Acked (the version every part of the read
// side had applied) before its Get; the document served must be at least
// that version — anything older is a stale document — and at most the
// store's version after the Get. Every document must be internally
// consistent (checkDoc: the body is the rendering of the version the doc
// claims, no keys before grading). Once the writer stops, every read must
// serve the final version: a stale document cached for good is the bug
// this catches.
func testRace(t *testing.T, h Harness) {
	w := NewWorld()
	c := h.New(t, w)
	id := newID()
	w.Draft(id, "L1")
	w.Publish(id)

	const readers = 6
	var (
		stop   atomic.Bool
		wg     sync.WaitGroup
		reads  atomic.Int64
		failMu sync.Mutex
		fail   string
	)
	report := func(msg string) {
		failMu.Lock()
		if fail == "" {
			fail = msg
		}
		failMu.Unlock()
	}
	for range readers {
		wg.Go(func() {
			for !stop.Load() {
				atLeast := w.Acked(id)
				doc, found, err := c.Get(context.Background(), id)
				atMost := w.StoreVersion(id)
				reads.Add(1)
				switch {
				case err != nil:
					report(fmt.Sprintf("Get: %v", err))
				case !found:
					report("published exam not found")
				case doc.Version < atLeast:
					report(fmt.Sprintf("stale document: version %d served after version %d was applied", doc.Version, atLeast))
				case doc.Version > atMost:
					report(fmt.Sprintf("version %d served, the store is at %d", doc.Version, atMost))
				default:
					var v view
					if json.Unmarshal(doc.Body, &v) != nil || v.Version != doc.Version || v.Status != string(doc.Status) {
						report(fmt.Sprintf("doc version %d status %s carries body %s", doc.Version, doc.Status, doc.Body))
					} else if doc.Status != domain.StatusGraded && strings.Contains(string(doc.Body), `"correct"`) {
						report(fmt.Sprintf("%s document leaks keys", doc.Status))
					}
				}
			}
		})
	}
	for i := range 30 {
		w.Edit(id, fmt.Sprintf("edit %d", i), "")
		time.Sleep(time.Millisecond)
	}
	w.Close(id)
	time.Sleep(time.Millisecond)
	w.Grade(id)
	time.Sleep(time.Millisecond)
	w.CorrectKey(id, "a")
	time.Sleep(2 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if fail != "" {
		t.Fatal(fail)
	}
	if reads.Load() < readers {
		t.Fatalf("only %d reads ran", reads.Load())
	}
	final := w.StoreVersion(id)
	for i := range 3 {
		doc, _, found := get(t, c, id)
		if !found || doc.Version != final || doc.Status != domain.StatusGraded {
			t.Fatalf("settled read %d: found=%v version %d status %q, want graded version %d", i, found, doc.Version, doc.Status, final)
		}
	}
}

func testScheduledSealed(t *testing.T, h Harness) {
	w := NewWorld()
	c := h.New(t, w)
	id := newID()
	w.Draft(id, "L1")
	v := w.Schedule(id)
	for i := range 2 { // a miss, then (for a cache) a hit
		doc, _, found := get(t, c, id) // checkDoc asserts the seal
		if !found || doc.Version != v || doc.Status != domain.StatusScheduled {
			t.Fatalf("read %d: found %v, version %d status %s; want the scheduled version %d", i, found, doc.Version, doc.Status, v)
		}
	}
	v = w.Open(id)
	deadline := time.Now().Add(5 * time.Second)
	for {
		doc, body, found := get(t, c, id)
		if found && doc.Version == v {
			if doc.Status != domain.StatusOpen || len(body.Questions) != len(questions()) {
				t.Fatalf("opened exam: status %s, %d questions: %s", doc.Status, len(body.Questions), doc.Body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the opened exam is still served as version %d (want %d)", doc.Version, v)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
