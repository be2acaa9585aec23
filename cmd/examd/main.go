// Command examd runs the exam platform.
//
//	examd                      serve everything embedded (the default)
//	examd create-admin EMAIL   create an admin (password from EXAM_ADMIN_PASSWORD or stdin)
//	examd rebuild              replay the event log into fresh read models, with progress
//	examd healthcheck          exit 0 when this host's examd answers /readyz (container health check)
//
// Configuration comes from EXAM_* environment variables (see README.md).
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/examhall/exam/api"
	"github.com/examhall/exam/cmd/platform"
	"github.com/examhall/exam/projections"
	"github.com/schollz/progressbar/v3"
)

func main() {
	cfg, err := platform.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "examd: configuration:", err)
		os.Exit(2)
	}
	args := os.Args[1:]
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		err = serve(cfg)
	case "create-admin":
		err = createAdmin(cfg, args)
	case "rebuild":
		err = rebuild(cfg)
	case "healthcheck":
		err = healthcheck(cfg)
	case "help", "-h", "--help":
		fmt.Println("usage: examd [serve | create-admin EMAIL [FULL NAME] | rebuild | healthcheck]")
		return
	default:
		err = fmt.Errorf("unknown command %q (try examd help)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "examd:", err)
		os.Exit(1)
	}
}

func serve(cfg platform.Config) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	p, err := platform.Open(ctx, cfg)
	if err != nil {
		return err
	}
	if p.Handler == nil {
		// No api role: the background roles run until a signal.
		p.Log.Info("examd running without the api role", "roles", cfg.Roles)
		<-ctx.Done()
		p.Log.Info("shutting down")
		err := p.Close()
		p.Log.Info("examd stopped")
		return err
	}
	srv := &http.Server{
		Addr: cfg.HTTPAddr, Handler: p.Handler,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
		// A hard stop: below it the API answers oversized headers itself,
		// in the contract's error shape (api.HeaderLimit).
		MaxHeaderBytes: api.ServerMaxHeaderBytes,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	p.Log.Info("examd listening", "addr", cfg.HTTPAddr, "data_dir", cfg.DataDir)
	select {
	case err = <-errc:
	case <-ctx.Done():
		p.Log.Info("shutting down: finishing in-flight requests")
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if cerr := p.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	p.Log.Info("examd stopped")
	return err
}

func createAdmin(cfg platform.Config, args []string) error {
	if len(args) < 1 {
		return errors.New("usage: examd create-admin EMAIL [FULL NAME]")
	}
	password := os.Getenv("EXAM_ADMIN_PASSWORD")
	if password == "" {
		fmt.Fprint(os.Stderr, "password: ")
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("read password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	cfg.AdminEmail, cfg.AdminPassword = "", ""
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	p, err := platform.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	created, err := p.Commands.BootstrapAdmin.Handle(ctx, args[0], password, strings.Join(args[1:], " "))
	if err != nil {
		return err
	}
	if created {
		fmt.Println("admin created:", args[0])
	} else {
		fmt.Println("a user with that email already exists; nothing changed:", args[0])
	}
	return nil
}

// rebuild replays the whole log into fresh read models and reports how long
// it took. In the embedded mode read models live in memory and are rebuilt
// this way at every start; the command shows the progress and the rate.
func rebuild(cfg platform.Config) error {
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	if cfg.Distributed() {
		return rebuildShared(ctx, cfg)
	}
	p, err := platform.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer p.Close()
	head, err := p.Store.Head(ctx)
	if err != nil {
		return err
	}
	bar := progressbar.NewOptions64(int64(head), progressbar.OptionSetDescription("replaying events"),
		progressbar.OptionShowCount(), progressbar.OptionSetWriter(os.Stderr), progressbar.OptionThrottle(100*time.Millisecond))
	catalog := projections.NewCatalog()
	runner := projections.NewRunner(p.Log, catalog, projections.NewResults())
	start := time.Now()
	if _, err := runner.CatchUp(ctx, p.Store, 0, func(done, _ uint64) { _ = bar.Set64(int64(done)) }); err != nil {
		return err
	}
	_ = bar.Finish()
	took := time.Since(start)
	fmt.Fprintf(os.Stderr, "\nreplayed %d events in %s (%.0f events/s)\n", runner.Applied(), took.Round(time.Millisecond), float64(runner.Applied())/took.Seconds())
	return nil
}

// rebuildShared rebuilds the PostgreSQL read models from the event log.
func rebuildShared(ctx context.Context, cfg platform.Config) error {
	var bar *progressbar.ProgressBar
	start := time.Now()
	n, err := platform.RebuildReadModels(ctx, cfg, func(done, total uint64) {
		if bar == nil {
			bar = progressbar.NewOptions64(int64(total), progressbar.OptionSetDescription("replaying events into PostgreSQL"),
				progressbar.OptionShowCount(), progressbar.OptionSetWriter(os.Stderr), progressbar.OptionThrottle(100*time.Millisecond))
		}
		_ = bar.Set64(int64(done))
	})
	if err != nil {
		return err
	}
	if bar != nil {
		_ = bar.Finish()
	}
	took := time.Since(start)
	fmt.Fprintf(os.Stderr, "\nreplayed %d events into the PostgreSQL read models in %s (%.0f events/s)\n", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	return nil
}
