package multiproc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/examhall/exam/internal/kafkatest"
	"github.com/jackc/pgx/v5"
)

const (
	// jwtSecret is shared by every examd process of a deployment.
	jwtSecret     = "multiproc-test-jwt-secret-0123456789abcdef"
	adminEmail    = "admin@examday.test"
	adminPassword = "admin-pass-123456"
	// defaultPostgresURL is the tests' PostgreSQL (scripts/ensure-postgres.sh).
	defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	readyTimeout       = 90 * time.Second
)

// topics are the bus topics (relay.DefaultTopics), created (8 partitions,
// the platform's default) before the platform starts.
var topics = []string{"exam.exams", "exam.attempts", "exam.grades", "exam.users", "exam.levels"}

// repoRoot is the module root (two levels above this package).
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	return root
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// examdBinary builds cmd/examd once per test binary, without -race (the
// children are the system under test, not the test).
func examdBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "multiproc-examd-")
		if err != nil {
			buildErr = err
			return
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = "/usr/local/go/bin/go"
		}
		buildPath = filepath.Join(dir, "examd")
		cmd := exec.Command(goBin, "build", "-o", buildPath, "./cmd/examd")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/examd: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// freePort asks the kernel for a free loopback port.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// needBinary finds a program; when it is missing the harness installs it
// with the project's script (Debian packages) and fails, naming the script,
// if that does not work.
func needBinary(t testing.TB, name, script string, extra ...string) string {
	t.Helper()
	find := func() string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, p := range extra {
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
		}
		return ""
	}
	if p := find(); p != "" {
		return p
	}
	t.Logf("%s is not installed: running %s", name, script)
	out, err := exec.Command("bash", filepath.Join("..", "..", script)).CombinedOutput()
	if p := find(); p != "" {
		return p
	}
	t.Fatalf("%s is not installed and %s could not install it (%v): %s", name, script, err, out)
	return ""
}

// --- child processes ----------------------------------------------------

// proc is a child process that can be killed and started again with the
// same command line; its stdout and stderr go to one log file.
type proc struct {
	name    string
	path    string
	args    []string
	env     []string
	logPath string
	// addr is the HTTP address of an examd with the api role.
	addr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s is already running", p.name)
		}
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "=== %s start %s\n", time.Now().UTC().Format(time.RFC3339Nano), p.name)
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group (nginx has workers); killed with the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd, p.done, p.err = cmd, make(chan struct{}), nil
	done := p.done
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// running reports whether the process is alive.
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// exited returns a channel closed when the current run ends.
func (p *proc) exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// signal sends sig to the process group and waits up to wait for the exit;
// after that it kills the group.
func (p *proc) signal(sig syscall.Signal, wait time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-done:
		return
	case <-time.After(wait):
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

// kill is SIGKILL: no goodbye.
func (p *proc) kill() { p.signal(syscall.SIGKILL, 10*time.Second) }

// stop is SIGTERM, then SIGKILL after ten seconds.
func (p *proc) stop() { p.signal(syscall.SIGTERM, 10*time.Second) }

// tail returns the last n lines of the log.
func (p *proc) tail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// grep returns the log lines that contain s (at most max).
func (p *proc) grep(s string, max int) []string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && len(out) < max {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// --- the deployment -----------------------------------------------------

// deployment is the distributed platform and its parts.
type deployment struct {
	t       *testing.T
	dir     string
	runID   string
	examd   string
	dbURL   string
	baseEnv []string

	// kafka is the deployment's own Apache Kafka broker (its own port and
	// data folder: the Kafka outage kills it and starts it again).
	kafka *kafkatest.Broker

	redisPort   int
	redis       *proc
	apis        []*proc
	relay       *proc
	projectors  []*proc
	nginx       *proc
	nginxPort   int
	nginxPrefix string
	procs       []*proc
}

// eventStoreEnv returns the EXAM_EVENTSTORE* / EXAM_CASSANDRA_* settings
// of a deployment's shared event store; the read models, Redis, Kafka and
// nginx are the same whatever the store.
type eventStoreEnv func(d *deployment) []string

// postgresEventStore keeps the events in the deployment's own PostgreSQL
// database, next to the read models (schema events).
func postgresEventStore(d *deployment) []string {
	return []string{"EXAM_EVENTSTORE=postgres", "EXAM_EVENTSTORE_POSTGRES_URL=" + d.dbURL, "EXAM_EVENTSTORE_POSTGRES_SCHEMA=events"}
}

// startDeployment starts everything on the PostgreSQL event store and waits
// until each API replica and nginx answer /readyz.
func startDeployment(t *testing.T) *deployment {
	t.Helper()
	return startDeploymentOn(t, postgresEventStore)
}

// startDeploymentOn is startDeployment with the event store store.
func startDeploymentOn(t *testing.T, store eventStoreEnv) *deployment {
	t.Helper()
	redisBin := needBinary(t, "redis-server", "scripts/ensure-redis.sh", "/usr/bin/redis-server", "/usr/sbin/redis-server")
	nginxBin := needBinary(t, "nginx", "scripts/ensure-nginx.sh", "/usr/sbin/nginx")
	d := &deployment{t: t, dir: t.TempDir(), runID: randomHex(4), examd: examdBinary(t)}
	// Log tails of every child on failure; registered first so it runs
	// after the children are stopped.
	t.Cleanup(func() {
		if d.nginxPrefix != "" {
			if t.Failed() {
				errLog := &proc{logPath: filepath.Join(d.nginxPrefix, "logs", "error.log")}
				t.Logf("---- last lines of nginx's error.log ----\n%s", errLog.tail(40))
			}
			_ = os.RemoveAll(d.nginxPrefix)
		}
		for _, p := range d.procs {
			if t.Failed() {
				t.Logf("---- last lines of %s (%s) ----\n%s", p.name, p.logPath, p.tail(40))
			}
			if errs := p.grep(`"level":"ERROR"`, 1000); len(errs) > 0 {
				t.Logf("%s logged %d errors; the first: %s", p.name, len(errs), strings.Join(errs[:min(len(errs), 3)], "\n"))
			}
		}
	})
	d.dbURL = freshDatabase(t, "examday_"+d.runID)

	d.kafka = kafkatest.Start(t)
	kafkatest.CreateTopics(t, d.kafka.Brokers(), 8, topics...)

	d.redisPort = freePort(t)
	d.redis = d.newProc("redis", redisBin, []string{"--port", strconv.Itoa(d.redisPort), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no"}, os.Environ())
	d.mustStart(d.redis)
	d.waitRedis()

	d.baseEnv = append(append(cleanEnv(), store(d)...),
		"EXAM_KAFKA_BROKERS="+d.kafkaAddr(),
		"EXAM_READMODEL_POSTGRES_URL="+d.dbURL,
		"EXAM_READMODEL_POSTGRES_SCHEMA=reads",
		fmt.Sprintf("EXAM_REDIS_URL=redis://127.0.0.1:%d/0", d.redisPort),
		"EXAM_JWT_SECRET="+jwtSecret,
		"EXAM_LOG_LEVEL=info",
		"EXAM_SCHEDULER_INTERVAL=200ms",
	)
	// The first API replica bootstraps the admin and creates the schemas;
	// the others start once it is ready.
	for i := range 3 {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		env := append(append([]string{}, d.baseEnv...), "EXAM_ROLES=api", "EXAM_HTTP_ADDR="+addr,
			"EXAM_DATA_DIR="+filepath.Join(d.dir, fmt.Sprintf("api%d", i+1)))
		if i == 0 {
			env = append(env, "EXAM_ADMIN_EMAIL="+adminEmail, "EXAM_ADMIN_PASSWORD="+adminPassword)
		}
		p := d.newProc(fmt.Sprintf("api%d", i+1), d.examd, []string{"serve"}, env)
		p.addr = addr
		d.apis = append(d.apis, p)
	}
	d.mustStart(d.apis[0])
	d.waitReady(d.apis[0])
	d.relay = d.newProc("relay-grader-scheduler", d.examd, []string{"serve"}, append(append([]string{}, d.baseEnv...),
		"EXAM_ROLES=relay,grader,scheduler", "EXAM_HTTP_ADDR=127.0.0.1:0", "EXAM_DATA_DIR="+filepath.Join(d.dir, "relay")))
	d.mustStart(d.relay)
	for i := range 2 {
		p := d.newProc(fmt.Sprintf("projector%d", i+1), d.examd, []string{"serve"}, append(append([]string{}, d.baseEnv...),
			"EXAM_ROLES=projector", "EXAM_HTTP_ADDR=127.0.0.1:0", "EXAM_DATA_DIR="+filepath.Join(d.dir, fmt.Sprintf("projector%d", i+1))))
		d.projectors = append(d.projectors, p)
		d.mustStart(p)
	}
	for _, p := range d.apis[1:] {
		d.mustStart(p)
	}
	for _, p := range d.apis[1:] {
		d.waitReady(p)
	}

	d.nginxPort = freePort(t)
	d.nginx = d.startNginx(nginxBin)
	d.waitURL(d.nginx, d.baseURL()+"/readyz")
	// The role processes serve nothing: they must at least still be alive.
	for _, p := range append([]*proc{d.relay}, d.projectors...) {
		if !p.running() {
			t.Fatalf("%s exited during start-up:\n%s", p.name, p.tail(30))
		}
	}
	return d
}

// cleanEnv is the test's environment without any EXAM_* variable.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EXAM_") {
			out = append(out, kv)
		}
	}
	return out
}

func (d *deployment) newProc(name, path string, args, env []string) *proc {
	p := &proc{name: name, path: path, args: args, env: env, logPath: filepath.Join(d.dir, name+".log")}
	d.procs = append(d.procs, p)
	d.t.Cleanup(p.stop)
	return p
}

func (d *deployment) mustStart(p *proc) {
	d.t.Helper()
	if err := p.start(); err != nil {
		d.t.Fatal(err)
	}
}

func (d *deployment) baseURL() string { return fmt.Sprintf("http://127.0.0.1:%d", d.nginxPort) }

func (d *deployment) kafkaAddr() string { return d.kafka.Addr }

// waitRedis waits until redis-server answers PING.
func (d *deployment) waitRedis() {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", d.redisPort), time.Second)
		if err == nil {
			_ = conn.SetDeadline(time.Now().Add(time.Second))
			_, _ = conn.Write([]byte("PING\r\n"))
			buf := make([]byte, 16)
			n, _ := conn.Read(buf)
			conn.Close()
			if bytes.HasPrefix(buf[:n], []byte("+PONG")) {
				return
			}
		}
		if !d.redis.running() || time.Now().After(deadline) {
			d.t.Fatalf("redis-server does not answer on port %d:\n%s", d.redisPort, d.redis.tail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// redisKeys is DBSIZE of the deployment's Redis.
func (d *deployment) redisKeys() (int, error) {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", d.redisPort), time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("DBSIZE\r\n")); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return 0, err
	}
	if !strings.HasPrefix(line, ":") {
		return 0, fmt.Errorf("DBSIZE: %q", line)
	}
	return strconv.Atoi(strings.TrimSpace(line[1:]))
}

// waitReady waits for an examd's /readyz.
func (d *deployment) waitReady(p *proc) {
	d.t.Helper()
	d.waitURL(p, "http://"+p.addr+"/readyz")
}

func (d *deployment) waitURL(p *proc, u string) {
	d.t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(readyTimeout)
	var last string
	for {
		res, err := hc.Get(u)
		if err == nil {
			body := make([]byte, 512)
			n, _ := res.Body.Read(body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", res.StatusCode, body[:n])
		} else {
			last = err.Error()
		}
		if !p.running() {
			d.t.Fatalf("%s exited before %s answered 200 (last: %s):\n%s", p.name, u, last, p.tail(40))
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s: %s not ready after %s (last: %s):\n%s", p.name, u, readyTimeout, last, p.tail(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// --- PostgreSQL ---------------------------------------------------------

// freshDatabase creates a database on the tests' PostgreSQL server and
// drops it when the test ends; it returns its URL.
func freshDatabase(t *testing.T, name string) string {
	t.Helper()
	base := os.Getenv("EXAM_TEST_POSTGRES_URL")
	if base == "" {
		base = defaultPostgresURL
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("EXAM_TEST_POSTGRES_URL %q: %v", base, err)
	}
	admin := *u
	admin.Path = "/postgres"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		t.Fatalf("PostgreSQL is unreachable at %s: %v\nrun scripts/ensure-postgres.sh (or point EXAM_TEST_POSTGRES_URL at a server where the user may CREATE DATABASE)", admin.Redacted(), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	db := *u
	db.Path = "/" + name
	return db.String()
}

// --- nginx --------------------------------------------------------------

// startNginx copies deploy/nginx.conf next to this deployment's
// upstreams.conf and listen.conf (the substitution the file documents) and
// runs nginx in the foreground with its own prefix.
func (d *deployment) startNginx(bin string) *proc {
	d.t.Helper()
	conf, err := os.ReadFile(filepath.Join(repoRoot(d.t), "deploy", "nginx.conf"))
	if err != nil {
		d.t.Fatalf("deploy/nginx.conf: %v", err)
	}
	// Outside the test's private temp dir: when the test runs as root the
	// workers run as nobody and must reach the prefix's temp directories.
	prefix, err := os.MkdirTemp("", "multiproc-nginx-")
	if err != nil {
		d.t.Fatal(err)
	}
	d.nginxPrefix = prefix // removed, after its error log is shown, when the test ends
	if err := os.Chmod(prefix, 0o755); err != nil {
		d.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(prefix, "logs"), 0o755); err != nil {
		d.t.Fatal(err)
	}
	var ups strings.Builder
	for _, addr := range d.upstreams() {
		fmt.Fprintf(&ups, "server %s max_fails=2 fail_timeout=5s;\n", addr)
	}
	files := map[string]string{
		"nginx.conf":     string(conf),
		"upstreams.conf": ups.String(),
		"listen.conf":    fmt.Sprintf("listen 127.0.0.1:%d;\n", d.nginxPort),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(prefix, name), []byte(content), 0o644); err != nil {
			d.t.Fatal(err)
		}
	}
	p := d.newProc("nginx", bin, []string{"-p", prefix + "/", "-c", filepath.Join(prefix, "nginx.conf"),
		"-e", filepath.Join(prefix, "logs", "error.log"), "-g", "daemon off;"}, cleanEnv())
	d.mustStart(p)
	return p
}

// upstreams lists the API replicas' addresses.
func (d *deployment) upstreams() []string {
	out := make([]string, 0, len(d.apis))
	for _, p := range d.apis {
		out = append(out, p.addr)
	}
	return out
}

// nginxErrors returns nginx's error-log lines that mention s.
func (d *deployment) nginxLog(name, s string, max int) []string {
	p := &proc{logPath: filepath.Join(d.nginxPrefix, "logs", name)}
	return p.grep(s, max)
}
