package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/examhall/exam/cmd/platform"
)

// healthcheck asks this container's own examd for /readyz and fails unless
// it answers 200. It is the health check of an API replica in
// docker-compose.yml: the image is distroless (no shell, no curl), so the
// binary checks itself. A listen address on every interface (":8080",
// "0.0.0.0:8080") is asked on loopback.
func healthcheck(cfg platform.Config) error {
	host, port, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("healthcheck: EXAM_HTTP_ADDR %q: %w", cfg.HTTPAddr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", url, res.Status)
	}
	return nil
}
