// Package nginxtest runs deploy/nginx.conf with a real nginx for tests: a
// child process on a loopback port with its own prefix directory, the given
// upstream servers, stopped when the test ends. A missing nginx fails the
// test (run scripts/ensure-nginx.sh); it never skips.
package nginxtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/examhall/exam/deploy"
)

// DefaultServerParams are the passive health check parameters written on
// every upstream server line unless Options says otherwise.
const DefaultServerParams = "max_fails=1 fail_timeout=10s"

// Options tune Start.
type Options struct {
	// ServerParams follow each "server host:port" line of upstreams.conf
	// (DefaultServerParams when empty).
	ServerParams string
	// Conf replaces deploy.NginxConf() (tests of a variant).
	Conf string
}

// Proxy is a running nginx.
type Proxy struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234 (no trailing slash).
	URL string
	// Prefix is nginx's prefix directory; ConfDir holds nginx.conf,
	// upstreams.conf and listen.conf.
	Prefix, ConfDir string
	// ErrorLog and AccessLog are the log files (access log: one JSON object
	// per line).
	ErrorLog, AccessLog string
}

// Binary returns the nginx executable: on PATH, else /usr/sbin/nginx (root's
// PATH is not always the one tests run with).
func Binary() (string, error) {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	const debian = "/usr/sbin/nginx"
	if fi, err := os.Stat(debian); err == nil && !fi.IsDir() {
		return debian, nil
	}
	return "", errors.New("nginx is not installed: run scripts/ensure-nginx.sh")
}

// Prepare writes the configuration into a fresh prefix directory under
// t.TempDir(): nginx.conf, upstreams.conf listing upstreams, listen.conf
// listening on listenAddr. It does not start nginx (see Test and Start).
func Prepare(t testing.TB, upstreams []string, listenAddr string, opts Options) *Proxy {
	t.Helper()
	prefix := t.TempDir()
	p := &Proxy{
		URL: "http://" + listenAddr, Prefix: prefix, ConfDir: filepath.Join(prefix, "conf"),
		ErrorLog: filepath.Join(prefix, "logs", "error.log"), AccessLog: filepath.Join(prefix, "logs", "access.log"),
	}
	conf := opts.Conf
	if conf == "" {
		conf = deploy.NginxConf()
	}
	params := opts.ServerParams
	if params == "" {
		params = DefaultServerParams
	}
	var ups strings.Builder
	for _, u := range upstreams {
		fmt.Fprintf(&ups, "server %s %s;\n", u, params)
	}
	for dir, files := range map[string]map[string]string{
		p.ConfDir: {
			"nginx.conf":     conf,
			"upstreams.conf": ups.String(),
			"listen.conf":    "listen " + listenAddr + ";\n",
		},
		filepath.Join(prefix, "logs"): nil,
	} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return p
}

// args are nginx's command line for p, ahead of extra.
func (p *Proxy) args(extra ...string) []string {
	global := "daemon off;"
	// Running as root, nginx's workers would switch to nobody, who cannot
	// enter the 0700 test directory to spool request bodies.
	if os.Geteuid() == 0 {
		global += " user root;"
	}
	return append([]string{"-p", p.Prefix + "/", "-c", filepath.Join(p.ConfDir, "nginx.conf"),
		"-e", p.ErrorLog, "-g", global}, extra...)
}

// Test runs "nginx -t" on the prepared configuration and returns its output
// and whether nginx accepted it.
func (p *Proxy) Test(ctx context.Context) (string, error) {
	bin, err := Binary()
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, bin, p.args("-t")...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("nginx -t: %w", err)
	}
	return string(out), nil
}

// Start runs nginx with deploy/nginx.conf in front of upstreams (host:port
// each) on a free loopback port, waits until it answers, and stops it when
// the test ends; the error log is printed if the test failed.
func Start(t testing.TB, upstreams []string, opts Options) *Proxy {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	// The port is free when picked but may be taken before nginx binds it:
	// try again on a fresh one then.
	var lastLog string
	for range 3 {
		p := Prepare(t, upstreams, freeAddr(t), opts)
		ok, log := p.start(t, bin)
		if ok {
			return p
		}
		lastLog = log
		if !strings.Contains(log, "Address already in use") {
			break
		}
	}
	t.Fatalf("nginx did not start; error log:\n%s", lastLog)
	return nil
}

func (p *Proxy) start(t testing.TB, bin string) (ok bool, errorLog string) {
	t.Helper()
	cmd := exec.Command(bin, p.args()...)
	// Own process group: stopping it reaches the workers too, and only them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // fast shutdown: the master stops its workers
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			return false, p.readErrorLog() + out.String()
		default:
		}
		if resp, err := client.Get(p.URL + "/nginx-healthz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("nginx did not answer on %s within 10s; error log:\n%s%s", p.URL, p.readErrorLog(), out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	client.CloseIdleConnections()
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("nginx error log (%s):\n%s%s", p.ErrorLog, p.readErrorLog(), out.String())
		}
	})
	return true, ""
}

func (p *Proxy) readErrorLog() string {
	b, err := os.ReadFile(p.ErrorLog)
	if err != nil {
		return fmt.Sprintf("(no error log: %v)\n", err)
	}
	return string(b)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}
