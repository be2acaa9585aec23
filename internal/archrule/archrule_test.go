package archrule

import (
	"bufio"
	"bytes"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/examhall/exam/"

// rule forbids every package under From from depending, directly or through
// other packages of ours, on any package under one of Not. Paths are
// relative to the module; "x" covers x and x/….
type rule struct {
	Why  string
	From string
	Not  []string
	// Except lists packages under From the rule does not apply to.
	Except []string
	// TestSupport exempts the fixture packages of test files.
	TestSupport bool
}

var rules = []rule{
	{Why: "the event store moves envelopes and never knows what an event means", From: "eventstore",
		Not: []string{"domain", "commands", "projections", "api", "auth", "cmd"}},
	{Why: "the write side does not lean on read models or the HTTP layer; it declares the ports it needs", From: "commands",
		Not: []string{"projections", "api", "auth", "cmd"}},
	{Why: "projections (grader included) never import the HTTP layer or the write side's handlers", From: "projections",
		Not: []string{"api", "commands", "cmd"}},
	{Why: "auth implements ports that commands and api declare; it sits below them", From: "auth",
		Not: []string{"commands", "projections", "api", "cmd"}},
	{Why: "nothing imports cmd/: it is where adapters are wired, the top of the graph", From: "",
		Not: []string{"cmd"}, Except: []string{"cmd"}},
	{Why: "only cmd/ picks concrete adapters (test-support packages may build them for their suites)", From: "",
		Not:         []string{"eventstore/embedded", "eventstore/postgres", "eventstore/kafkabus", "eventstore/cassandra", "projections/pgread", "projections/rediscache", "auth/redisthrottle", "internal/imagestore"},
		Except:      []string{"cmd", "eventstore/embedded", "eventstore/postgres", "eventstore/kafkabus", "eventstore/cassandra", "projections/pgread", "projections/rediscache", "auth/redisthrottle", "internal/imagestore"},
		TestSupport: true},
}

// under reports whether pkg is dir or inside it ("" is the whole module).
func under(pkg, dir string) bool {
	return dir == "" || pkg == dir || strings.HasPrefix(pkg, dir+"/")
}

// testSupport packages (eventstoretest, readmodeltest, pgtest, …) are
// fixtures for test files; the adapter rule lets them build adapters.
func testSupport(pkg string) bool {
	last := pkg[strings.LastIndexByte(pkg, '/')+1:]
	return strings.HasSuffix(last, "test")
}

// importGraph lists the module's non-test packages and their direct imports
// of other packages of the module (go list's Imports excludes test files).
func importGraph(t *testing.T) map[string][]string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	graph := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		pkg := strings.TrimPrefix(fields[0], module)
		graph[pkg] = nil
		for _, imp := range fields[1:] {
			if strings.HasPrefix(imp, module) {
				graph[pkg] = append(graph[pkg], strings.TrimPrefix(imp, module))
			}
		}
	}
	if len(graph) < 10 {
		t.Fatalf("go list found only %d packages of the module: %v", len(graph), graph)
	}
	return graph
}

// paths returns, for every package of ours pkg depends on, one import chain
// from pkg to it.
func paths(graph map[string][]string, pkg string) map[string][]string {
	seen := map[string][]string{}
	queue := [][]string{{pkg}}
	for len(queue) > 0 {
		chain := queue[0]
		queue = queue[1:]
		for _, imp := range graph[chain[len(chain)-1]] {
			if _, ok := seen[imp]; ok || imp == pkg {
				continue
			}
			next := append(append([]string(nil), chain...), imp)
			seen[imp] = next
			queue = append(queue, next)
		}
	}
	return seen
}

func violations(graph map[string][]string, r rule) []string {
	var out []string
	for pkg := range graph {
		if !under(pkg, r.From) || excepted(pkg, r.Except) {
			continue
		}
		if r.TestSupport && testSupport(pkg) {
			continue
		}
		for dep, chain := range paths(graph, pkg) {
			for _, not := range r.Not {
				if under(dep, not) {
					out = append(out, strings.Join(chain, " → "))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func excepted(pkg string, except []string) bool {
	for _, e := range except {
		if under(pkg, e) {
			return true
		}
	}
	return false
}

func TestDependencyRule(t *testing.T) {
	graph := importGraph(t)
	for _, r := range rules {
		for _, v := range violations(graph, r) {
			t.Errorf("%s: %s", r.Why, v)
		}
	}
}

func TestDomainImportsNothingOfOurs(t *testing.T) {
	graph := importGraph(t)
	if deps := graph["domain"]; len(deps) != 0 {
		t.Errorf("domain imports packages of ours: %v (domain/purity_test.go also bans third-party ones)", deps)
	}
}

// The rule checker itself must catch a forbidden import, direct or through
// another package, or the test above proves nothing.
func TestViolationsFindsIndirectImports(t *testing.T) {
	graph := map[string][]string{
		"commands":    {"commands/x"},
		"commands/x":  {"projections"},
		"projections": {"domain"},
		"domain":      nil,
		"cmd/examd":   {"commands"},
	}
	got := violations(graph, rules[1])
	want := []string{"commands → commands/x → projections", "commands/x → projections"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("violations = %q, want %q", got, want)
	}
}
