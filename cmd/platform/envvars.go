package platform

import (
	"slices"
	"sync"
)

// EnvVars lists the EXAM_* variables FromEnv reads, sorted: what a
// deployment file (docker-compose.yml) may set. It is not a second list to
// keep in step with FromEnv: it runs FromEnv with a getenv that records the
// names asked for. That holds as long as FromEnv asks for every variable
// whatever the others say (a name read only in some branch would be
// missed); TestEnvVarsAreTheNamesFromEnvReads checks it against the source.
func EnvVars() []string {
	envVarsOnce.Do(func() {
		seen := map[string]bool{}
		_, _ = FromEnv(func(name string) string {
			seen[name] = true
			return ""
		})
		for name := range seen {
			envVars = append(envVars, name)
		}
		slices.Sort(envVars)
	})
	return slices.Clone(envVars)
}

var (
	envVarsOnce sync.Once
	envVars     []string
)
