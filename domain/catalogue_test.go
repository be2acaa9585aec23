package domain_test

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/examhall/exam/domain"
)

// TestEventCatalogueMatchesCode keeps docs/events.md true: every event type
// the code defines is documented with exactly its payload's JSON fields,
// and the document lists no type the code does not have.
func TestEventCatalogueMatchesCode(t *testing.T) {
	raw, err := os.ReadFile("../docs/events.md")
	if err != nil {
		t.Fatalf("read catalogue: %v", err)
	}
	doc := parseCatalogue(t, string(raw))
	types := domain.EventTypes()
	sort.Strings(types)
	for _, typ := range types {
		fields, ok := doc[typ]
		if !ok {
			t.Errorf("%s is not documented in docs/events.md", typ)
			continue
		}
		p, err := domain.NewPayload(typ)
		if err != nil {
			t.Fatal(err)
		}
		want := jsonFields(reflect.TypeOf(p).Elem())
		if !reflect.DeepEqual(fields, want) {
			t.Errorf("%s: documented fields %v, code has %v", typ, fields, want)
		}
		delete(doc, typ)
	}
	for typ := range doc {
		t.Errorf("docs/events.md documents %s, which the code does not define", typ)
	}
}

func parseCatalogue(t *testing.T, doc string) map[string][]string {
	t.Helper()
	heading := regexp.MustCompile("^### `([a-z_.0-9]+)`$")
	field := regexp.MustCompile("`([a-z_]+)`")
	out := map[string][]string{}
	current := ""
	for _, line := range strings.Split(doc, "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			current = m[1]
			out[current] = nil
			continue
		}
		if rest, ok := strings.CutPrefix(line, "- fields: "); ok && current != "" {
			for _, m := range field.FindAllStringSubmatch(rest, -1) {
				out[current] = append(out[current], m[1])
			}
		}
	}
	return out
}

func jsonFields(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}
