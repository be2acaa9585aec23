package relay_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/relay"
)

// The event catalogue (docs/events.md) tells analytics consumers which topic
// carries which events. These tests keep it from drifting from the relay:
// its category table and each type's "· topic:" line must match
// relay.DefaultTopics, and the relay must really route every documented
// type there (and publish none of the private ones).

const cataloguePath = "../../docs/events.md"

// unpublished is how the catalogue marks a private category or type.
const unpublished = ""

type catalogue struct {
	// categories: category → topic (unpublished for private ones), from the
	// table under "Envelope and transport".
	categories map[string]string
	// types: event type → its stream id pattern and topic, from its section.
	types map[string]docType
}

type docType struct {
	stream, category, topic string
}

var (
	tableRow   = regexp.MustCompile("^\\| `([a-z_]+)` \\| `([^`]+)`[^|]*\\| (.+?) \\|$")
	typeHead   = regexp.MustCompile("^### `([a-z_]+\\.[a-z_]+\\.v[0-9]+)`$")
	streamLine = regexp.MustCompile("^- stream: `([^`]+)` · topic: (.+?) · key: ")
	topicCell  = regexp.MustCompile("^`([a-z0-9_.-]+)`$")
)

// show prints a topic for a failure message.
func show(topic string) string {
	if topic == unpublished {
		return "not published"
	}
	return topic
}

// parseTopic reads a topic cell: a backquoted topic, or "not published".
func parseTopic(cell string) (string, error) {
	if m := topicCell.FindStringSubmatch(cell); m != nil {
		return m[1], nil
	}
	if strings.HasPrefix(cell, "not published") {
		return unpublished, nil
	}
	return "", fmt.Errorf("topic %q is neither `topic` nor \"not published\"", cell)
}

func readCatalogue(t *testing.T) catalogue {
	t.Helper()
	raw, err := os.ReadFile(cataloguePath)
	if err != nil {
		t.Fatalf("the event catalogue: %v", err)
	}
	c := catalogue{categories: map[string]string{}, types: map[string]docType{}}
	var current string // the type whose section we are in
	for i, line := range strings.Split(string(raw), "\n") {
		where := fmt.Sprintf("%s:%d", cataloguePath, i+1)
		if m := tableRow.FindStringSubmatch(line); m != nil {
			topic, err := parseTopic(m[3])
			if err != nil {
				t.Errorf("%s: %v", where, err)
			}
			if _, dup := c.categories[m[1]]; dup {
				t.Errorf("%s: category %s listed twice", where, m[1])
			}
			if got := eventstore.Category(m[2]); got != m[1] {
				t.Errorf("%s: stream id %s is not of category %s", where, m[2], m[1])
			}
			c.categories[m[1]] = topic
			continue
		}
		if m := typeHead.FindStringSubmatch(line); m != nil {
			current = m[1]
			if _, dup := c.types[current]; dup {
				t.Errorf("%s: type %s documented twice", where, current)
			}
			c.types[current] = docType{}
			continue
		}
		if strings.HasPrefix(line, "- stream:") {
			m := streamLine.FindStringSubmatch(line)
			if m == nil || current == "" {
				t.Errorf("%s: stream line outside a type section or not `- stream: `…` · topic: … · key: …`: %s", where, line)
				continue
			}
			topic, err := parseTopic(m[2])
			if err != nil {
				t.Errorf("%s: %s: %v", where, current, err)
			}
			c.types[current] = docType{stream: m[1], category: eventstore.Category(m[1]), topic: topic}
		}
	}
	if len(c.categories) == 0 || len(c.types) == 0 {
		t.Fatalf("%s: found %d categories and %d types: has its format changed?", cataloguePath, len(c.categories), len(c.types))
	}
	for typ, d := range c.types {
		if d.stream == "" {
			t.Errorf("%s: type %s has no \"- stream: … · topic: …\" line", cataloguePath, typ)
		}
	}
	return c
}

func TestCatalogueTopicsMatchDefaultTopics(t *testing.T) {
	t.Parallel()
	c := readCatalogue(t)

	// The table and the code agree, both ways.
	for cat, topic := range relay.DefaultTopics {
		doc, ok := c.categories[cat]
		switch {
		case !ok:
			t.Errorf("category %s (topic %s) is missing from the table in %s", cat, topic, cataloguePath)
		case doc != topic:
			t.Errorf("category %s: the catalogue says topic %q, relay.DefaultTopics %q", cat, show(doc), topic)
		}
	}
	for cat, topic := range c.categories {
		if _, published := relay.DefaultTopics[cat]; !published && topic != unpublished {
			t.Errorf("category %s: the catalogue says topic %q, but the relay does not publish it", cat, topic)
		}
	}

	// Every type's line agrees with its category.
	for typ, d := range c.types {
		want, known := c.categories[d.category]
		if !known {
			t.Errorf("%s: stream %s is of category %s, which the table does not list", typ, d.stream, d.category)
			continue
		}
		if d.topic != want {
			t.Errorf("%s: topic %q, but category %s: %q", typ, show(d.topic), d.category, show(want))
		}
	}
}

// recordingPublisher remembers which topic each message went to.
type recordingPublisher struct {
	mu     sync.Mutex
	topics map[string][]string // event type → topics
}

func (p *recordingPublisher) Publish(topic string, msgs ...*message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range msgs {
		typ := m.Metadata.Get(relay.HeaderType)
		p.topics[typ] = append(p.topics[typ], topic)
	}
	return nil
}

func (p *recordingPublisher) Close() error { return nil }

func (p *recordingPublisher) snapshot() map[string][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.topics)
}

// The relay, configured as production configures it (default topics), puts
// one event of every documented type where the catalogue says.
func TestRelayRoutesEveryDocumentedTypeToItsDocumentedTopic(t *testing.T) {
	t.Parallel()
	c := readCatalogue(t)
	store := openStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	types := slices.Sorted(maps.Keys(c.types))
	var last uint64
	for i, typ := range types {
		// "exam-<exam_id>" → "exam-7": a stream of the documented category.
		stream := fmt.Sprintf("%s-%d", c.types[typ].category, i)
		res, err := store.Append(ctx, stream, eventstore.AnyVersion, []eventstore.Record{{
			EventID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1), StreamID: stream, Type: typ,
			OccurredAt: time.Now().UTC(), ActorID: "a", ActorRole: "admin", CorrelationID: "req", Data: []byte(`{}`),
		}})
		if err != nil {
			t.Fatal(err)
		}
		last = res.LastPosition
	}
	pub := &recordingPublisher{topics: map[string][]string{}}
	rl, stop := runRelay(t, relay.Config{Name: "catalogue", Store: store, Checkpoints: store, Publisher: pub})
	defer stop()
	if err := rl.WaitPublished(ctx, last); err != nil {
		t.Fatalf("relay did not get past position %d: %v", last, err)
	}
	got := pub.snapshot()
	for _, typ := range types {
		want := c.types[typ].topic
		switch topics := got[typ]; {
		case want == unpublished && len(topics) > 0:
			t.Errorf("%s is private in the catalogue but was published to %v", typ, topics)
		case want != unpublished && !slices.Equal(topics, []string{want}):
			t.Errorf("%s was published to %v, the catalogue says %s", typ, topics, show(want))
		}
	}
}
