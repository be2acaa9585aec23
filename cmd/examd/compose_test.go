package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/examhall/exam/cmd/platform"
)

// No Docker engine runs on the project's machines, so docker-compose.yml is
// checked the way `docker compose config` reads it: the Compose
// specification's own loader, with .env.example as the only environment.

const examdImage = "examhall/examd"

func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	root := filepath.Join("..", "..")
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnvFiles(filepath.Join(root, ".env.example")),
		cli.WithDotEnv, // the env file above, not the test's own environment
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load with .env.example: %v", err)
	}
	return p
}

func isExamd(s types.ServiceConfig) bool {
	return strings.HasPrefix(s.Image, examdImage+":")
}

func roles(s types.ServiceConfig) []string {
	if v := s.Environment["EXAM_ROLES"]; v != nil {
		return strings.Split(*v, ",")
	}
	return nil
}

// composeProblems lists everything wrong with the deployment file against
// the rules: each a sentence naming the service.
func composeProblems(p *types.Project, examdVars []string, upstreams string) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range p.Services {
			if !yield(n) {
				return
			}
		}
	})

	for _, want := range []string{"cassandra1", "cassandra2", "cassandra3", "kafka", "postgres", "redis", "nginx"} {
		if _, ok := p.Services[want]; !ok {
			bad("no %s service", want)
		}
	}
	var apis []string
	workers := map[string]bool{}
	for _, n := range names {
		s := p.Services[n]
		if !isExamd(s) {
			continue
		}
		rs := roles(s)
		if len(rs) == 0 {
			bad("%s: examd without EXAM_ROLES runs every role in one process", n)
		}
		for _, r := range rs {
			if r == platform.RoleAPI {
				apis = append(apis, n)
			} else {
				workers[r] = true
			}
		}
	}
	if len(apis) < 2 {
		bad("%d API replicas (%v), want at least 2", len(apis), apis)
	}
	for _, r := range []string{platform.RoleRelay, platform.RoleProjector, platform.RoleGrader, platform.RoleScheduler} {
		if !workers[r] {
			bad("no service runs the %s role", r)
		}
	}

	for _, n := range names {
		s := p.Services[n]
		// Pinned images: a tag, never latest.
		if tag := imageTag(s.Image); tag == "" || tag == "latest" {
			bad("%s: image %q is not pinned to a tag", n, s.Image)
		}
		// A health check on every server; the worker roles serve nothing.
		worker := isExamd(s) && !slices.Contains(roles(s), platform.RoleAPI)
		hasHealth := s.HealthCheck != nil && !s.HealthCheck.Disable && len(s.HealthCheck.Test) > 0 && s.HealthCheck.Test[0] != "NONE"
		if !worker && !hasHealth {
			bad("%s: no health check", n)
		}
		// Start order: only on healthy dependencies.
		for dep, d := range s.DependsOn {
			if d.Condition != types.ServiceConditionHealthy {
				bad("%s: depends on %s with condition %q, want service_healthy", n, dep, d.Condition)
			}
			if ds, ok := p.Services[dep]; ok && (ds.HealthCheck == nil || ds.HealthCheck.Disable) {
				bad("%s: depends on %s, which has no health check", n, dep)
			}
		}
		if isExamd(s) {
			for _, dep := range []string{"cassandra1", "cassandra2", "cassandra3", "kafka", "postgres", "redis"} {
				if d, ok := s.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
					bad("%s: does not wait for %s to be healthy", n, dep)
				}
			}
			if u := s.User; u == "" || u == "root" || u == "0" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root:") {
				bad("%s: runs as %q, want an unprivileged user", n, u)
			}
			if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" {
				bad("%s: not built from deploy/Dockerfile", n)
			}
			// Every variable set is one examd reads.
			for k := range s.Environment {
				if strings.HasPrefix(k, "EXAM_") && !slices.Contains(examdVars, k) {
					bad("%s: sets %s, which examd does not read", n, k)
				}
			}
			for k, want := range map[string]string{
				"EXAM_EVENTSTORE": "cassandra", "EXAM_CASSANDRA_REPLICATION_FACTOR": "3", "EXAM_CASSANDRA_CONSISTENCY": "QUORUM",
			} {
				if v := s.Environment[k]; v == nil || *v != want {
					bad("%s: %s is not %s", n, k, want)
				}
			}
			for _, k := range []string{"EXAM_CASSANDRA_HOSTS", "EXAM_KAFKA_BROKERS", "EXAM_READMODEL_POSTGRES_URL", "EXAM_REDIS_URL", "EXAM_JWT_SECRET"} {
				if v := s.Environment[k]; v == nil || *v == "" {
					bad("%s: %s is not set", n, k)
				}
			}
		}
	}
	if ng, ok := p.Services["nginx"]; ok {
		if u := ng.User; u == "" || u == "root" || u == "0" || strings.HasPrefix(u, "0:") {
			bad("nginx: runs as %q, want an unprivileged user", u)
		}
		for _, a := range apis {
			if d, ok := ng.DependsOn[a]; !ok || d.Condition != types.ServiceConditionHealthy {
				bad("nginx: does not wait for %s to be healthy", a)
			}
			if !strings.Contains(upstreams, "server "+a+":8080 ") {
				bad("nginx: %s is not in deploy/compose/upstreams.conf", a)
			}
		}
		var mountsConf bool
		for _, v := range ng.Volumes {
			if strings.HasSuffix(v.Source, filepath.Join("deploy", "nginx.conf")) {
				mountsConf = true
			}
		}
		if !mountsConf {
			bad("nginx: does not run deploy/nginx.conf")
		}
	}
	for _, n := range []string{"cassandra1", "cassandra2", "cassandra3", "kafka", "postgres"} {
		s, ok := p.Services[n]
		if !ok {
			continue
		}
		var named bool
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeVolume {
				if _, ok := p.Volumes[v.Source]; ok {
					named = true
				}
			}
		}
		if !named {
			bad("%s: keeps its data in no named volume", n)
		}
	}
	return out
}

func TestComposeFileFollowsTheDeploymentRules(t *testing.T) {
	p := loadCompose(t)
	ups, err := os.ReadFile(filepath.Join("..", "..", "deploy", "compose", "upstreams.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, problem := range composeProblems(p, platform.EnvVars(), string(ups)) {
		t.Error(problem)
	}
	// The secrets come from the env file, interpolated.
	env := readEnvFile(t, filepath.Join("..", "..", ".env.example"))
	api1 := p.Services["api1"]
	for _, k := range []string{"EXAM_JWT_SECRET", "EXAM_ADMIN_EMAIL", "EXAM_ADMIN_PASSWORD"} {
		if v := api1.Environment[k]; v == nil || *v != env[k] || env[k] == "" {
			t.Errorf("api1: %s is not the .env.example value", k)
		}
	}
}

// The checks catch what they are for: a file that breaks each rule is
// reported, one problem per broken rule.
func TestComposeProblemsCatchBrokenFiles(t *testing.T) {
	p := loadCompose(t)
	ups := "server api1:8080 max_fails=2;\nserver api2:8080 max_fails=2;\n"
	vars := append(platform.EnvVars(), "EXAM_CASSANDRA_HOSTS", "EXAM_CASSANDRA_KEYSPACE", "EXAM_CASSANDRA_REPLICATION_FACTOR", "EXAM_CASSANDRA_CONSISTENCY")
	if got := composeProblems(p, vars, ups); len(got) != 0 {
		t.Fatalf("the committed file has problems: %v", got)
	}
	bogus := "yes"
	api2 := p.Services["api2"]
	api2.Environment = maps(api2.Environment, "EXAM_NOT_A_SETTING", &bogus)
	api2.User = "root"
	p.Services["api2"] = api2
	redis := p.Services["redis"]
	redis.Image, redis.HealthCheck = "redis:latest", nil
	p.Services["redis"] = redis
	kafka := p.Services["kafka"]
	kafka.Volumes = nil
	p.Services["kafka"] = kafka
	relay := p.Services["relay"]
	relay.DependsOn = types.DependsOnConfig{"kafka": {Condition: types.ServiceConditionStarted}}
	p.Services["relay"] = relay
	got := strings.Join(composeProblems(p, vars, ups), "\n")
	for _, want := range []string{
		"api2: sets EXAM_NOT_A_SETTING", `api2: runs as "root"`, `redis: image "redis:latest" is not pinned`,
		"redis: no health check", "kafka: keeps its data in no named volume",
		`relay: depends on kafka with condition "service_started"`, "relay: does not wait for cassandra1",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems do not include %q:\n%s", want, got)
		}
	}
}

// imageTag is the tag of an image reference ("" when it has none).
func imageTag(ref string) string {
	last := ref[strings.LastIndex(ref, "/")+1:]
	if i := strings.Index(last, ":"); i >= 0 {
		return last[i+1:]
	}
	return ""
}

func maps(m types.MappingWithEquals, k string, v *string) types.MappingWithEquals {
	out := types.MappingWithEquals{}
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

// The image builds a static binary and runs it as a non-root user, from
// pinned base images.
func TestDockerfileIsStaticDistrolessAndUnprivileged(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	var user string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, f[1])
		case "USER":
			user = f[1]
		}
	}
	if len(froms) < 2 {
		t.Fatalf("FROM lines %v: not multi-stage", froms)
	}
	for _, img := range froms {
		if tag := imageTag(img); tag == "" || tag == "latest" {
			t.Errorf("base image %s is not pinned", img)
		}
	}
	if last := froms[len(froms)-1]; !strings.Contains(last, "distroless") && last != "scratch" {
		t.Errorf("final stage %s is neither distroless nor scratch", last)
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Errorf("USER %q: the image runs as root", user)
	}
	if !strings.Contains(string(data), "CGO_ENABLED=0") {
		t.Error("the binary is not built with CGO_ENABLED=0 (static)")
	}
}

// .env holds the deployment's secrets: never committed.
func TestDotEnvIsIgnored(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Split(string(data), "\n"), ".env") {
		t.Error(".gitignore does not list .env")
	}
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}
