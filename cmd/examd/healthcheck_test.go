package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/examhall/exam/cmd/platform"
)

// The container health check passes while /readyz answers 200 and fails
// when it answers anything else or nothing listens; an address on every
// interface is asked on loopback.
func TestHealthcheckAsksReadyz(t *testing.T) {
	var status atomic.Int64
	status.Store(http.StatusOK)
	var path atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path.Store(r.URL.Path)
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	cfg := platform.Defaults()
	for _, addr := range []string{"127.0.0.1:" + port, "0.0.0.0:" + port, ":" + port} {
		cfg.HTTPAddr = addr
		if err := healthcheck(cfg); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
	if p, _ := path.Load().(string); p != "/readyz" {
		t.Errorf("asked %q, want /readyz", p)
	}
	status.Store(http.StatusServiceUnavailable)
	if err := healthcheck(cfg); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a 503 passed the health check: %v", err)
	}
	srv.Close()
	if err := healthcheck(cfg); err == nil {
		t.Error("the health check passed with nothing listening")
	}
	cfg.HTTPAddr = "no-port"
	if err := healthcheck(cfg); err == nil || !strings.Contains(err.Error(), "EXAM_HTTP_ADDR") {
		t.Errorf("bad address: %v", err)
	}
}
