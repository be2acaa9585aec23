package domain

import (
	"os/exec"
	"strings"
	"testing"
)

// The domain is pure Go: it may import the standard library and nothing
// else, ours or third-party (ARCHITECTURE.md, "Which way dependencies point").
func TestDomainImportsOnlyStandardLibrary(t *testing.T) {
	const self = "github.com/examhall/exam/domain"
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", self)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	var listed []string
	for _, line := range strings.Split(string(out), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			listed = append(listed, line)
		}
	}
	if len(listed) != 1 || listed[0] != self {
		t.Fatalf("non-standard packages in the domain's dependencies: %v; want only %s", listed, self)
	}
}
