package platform_test

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/examhall/exam/cmd/platform"
)

// Every EXAM_* name that appears in config.go is one FromEnv asks for, and
// the other way round: a variable read only in some branch (and so missing
// from EnvVars) fails here.
func TestEnvVarsAreTheNamesFromEnvReads(t *testing.T) {
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	var inSource []string
	for _, m := range regexp.MustCompile(`"(EXAM_[A-Z0-9_]+)"`).FindAllStringSubmatch(string(src), -1) {
		if !slices.Contains(inSource, m[1]) {
			inSource = append(inSource, m[1])
		}
	}
	slices.Sort(inSource)
	got := platform.EnvVars()
	if !slices.Equal(got, inSource) {
		t.Fatalf("EnvVars() = %v\nconfig.go names %v", got, inSource)
	}
	for _, want := range []string{"EXAM_KAFKA_BROKERS", "EXAM_JWT_SECRET", "EXAM_ROLES", "EXAM_REDIS_URL"} {
		if !slices.Contains(got, want) {
			t.Errorf("EnvVars() lacks %s", want)
		}
	}
}
