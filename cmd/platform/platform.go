package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/examhall/exam/api"
	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/embedded"
	"github.com/examhall/exam/eventstore/postgres"
	"github.com/examhall/exam/eventstore/relay"
	"github.com/examhall/exam/projections"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// EventStore is what the platform needs of an event-store backend.
type EventStore interface {
	eventstore.Store
	eventstore.CheckpointStore
}

// Platform is a running platform.
type Platform struct {
	Handler  http.Handler
	Commands *commands.Handlers
	Store    EventStore
	Runner   *projections.Runner
	Relay    *relay.Relay
	Reads    *projections.InMemory
	Log      *slog.Logger

	cancel context.CancelFunc
	wg     sync.WaitGroup
	bus    *gochannel.GoChannel
	once   sync.Once
}

// relayName is the relay's permanent checkpoint name.
const relayName = "relay.inprocess"

// Open opens the store, rebuilds the read models from the log and starts the
// background roles (relay, projections, grader, scheduler). Close stops them.
func Open(ctx context.Context, cfg Config) (*Platform, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	secret := []byte(cfg.JWTSecret)
	if len(secret) == 0 {
		var err error
		if secret, err = auth.LoadOrCreateSecret(filepath.Join(cfg.DataDir, "jwt.secret")); err != nil {
			return nil, fmt.Errorf("jwt secret: %w", err)
		}
	}
	tokens, err := auth.NewTokenIssuer(auth.TokenConfig{Secret: secret, Issuer: "examhall", AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	store, err := openEventStore(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("open event store: %w", err)
	}
	p := &Platform{Store: store, Log: log}
	if err := p.build(ctx, cfg, tokens); err != nil {
		_ = store.Close()
		return nil, err
	}
	return p, nil
}

func (p *Platform) build(ctx context.Context, cfg Config, tokens *auth.TokenIssuer) error {
	log := p.Log
	images, err := commands.NewFileImageStore(filepath.Join(cfg.DataDir, "images"))
	if err != nil {
		return err
	}
	cmds, err := commands.New(commands.Deps{
		Store: p.Store, Now: cfg.Now, Logger: log,
		Hasher:   auth.NewPasswordHasher(cfg.Argon2, 0),
		Tokens:   tokens,
		Throttle: auth.NewMemoryLoginThrottle(auth.ThrottleConfig{Now: cfg.Now}),
		Images:   images,
	})
	if err != nil {
		return err
	}
	p.Commands = cmds

	catalog := projections.NewCatalog()
	cache := projections.NewStudentExamCache(catalog, cmds.Repo, api.RenderStudentExam)
	results := projections.NewResults()
	grader := projections.NewGrader(catalog, graderPort{cmds}, log)
	p.Reads = &projections.InMemory{Catalog: catalog, Cache: cache, Results: results}
	p.Runner = projections.NewRunner(log, catalog, cache, results, grader)

	start := time.Now()
	caughtUp, err := p.Runner.CatchUp(ctx, p.Store, nil)
	if err != nil {
		return err
	}
	log.Info("read models rebuilt from the event log", "events", p.Runner.Applied(), "took", time.Since(start))

	p.bus = gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true, OutputChannelBuffer: 256}, watermill.NewSlogLogger(log.With("component", "bus")))
	// The in-process relay feeds this process's own read models. With the
	// embedded store it keeps its durable checkpoint in the store. A shared
	// store has one checkpoint table for every replica, so there each process
	// starts its relay exactly where its own catch-up ended instead.
	var checkpoints eventstore.CheckpointStore = p.Store
	if cfg.EventStore == EventStorePostgres {
		checkpoints = &processCheckpoints{start: caughtUp}
	}
	p.Relay, err = relay.New(relay.Config{Name: relayName, Store: p.Store, Checkpoints: checkpoints, Publisher: p.bus, Topics: relay.DefaultTopics, Logger: log})
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	topics := make([]string, 0, len(relay.DefaultTopics))
	for _, t := range relay.DefaultTopics {
		topics = append(topics, t)
	}
	if err := p.Runner.Subscribe(runCtx, p.bus, topics); err != nil {
		cancel()
		return err
	}
	p.goRun(func() {
		if err := p.Relay.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("relay stopped", "err", err)
		}
	})
	p.goRun(func() { grader.Run(runCtx, cfg.GraderReconcile) })
	sched := projections.NewScheduler(catalog, tickerPort{cmds}, cfg.Now, log)
	p.goRun(func() { sched.Run(runCtx, cfg.SchedulerInterval) })

	if cfg.AdminEmail != "" {
		created, err := cmds.BootstrapAdmin.Handle(ctx, cfg.AdminEmail, cfg.AdminPassword, "")
		if err != nil {
			return fmt.Errorf("bootstrap admin: %w", err)
		}
		if created {
			log.Info("bootstrap admin created", "email", cfg.AdminEmail)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p.Handler, err = api.NewHandler(api.Config{
		Commands: cmds, Reads: p.Reads, Events: p.Store, Tokens: tokens, Watermark: p.Relay, Images: images,
		Logger: log, Registry: reg, MaxBodyBytes: cfg.MaxBodyBytes, AccessTTL: cfg.AccessTTL,
		Extra: adminRoutes(adminWiring{Commands: cmds, Reads: p.Reads, Events: p.Store, Images: images, Tokens: tokens, Log: log}),
		ReadyChecks: map[string]api.ReadyCheck{"eventstore": func(ctx context.Context) error {
			_, err := p.Store.Head(ctx)
			return err
		}},
	})
	return err
}

// openEventStore opens the backend the configuration names: the embedded
// store in the data dir (default) or a shared PostgreSQL store, which lets
// several examd processes serve one platform (each keeps its own in-process
// read models, rebuilt from and following the shared log).
func openEventStore(ctx context.Context, cfg Config, log *slog.Logger) (EventStore, error) {
	switch cfg.EventStore {
	case EventStorePostgres:
		return postgres.Open(ctx, postgres.Config{URL: cfg.EventStorePostgresURL, Schema: cfg.EventStorePostgresSchema, Logger: log})
	default:
		return embedded.Open(filepath.Join(cfg.DataDir, "events"), embedded.Options{Logger: log})
	}
}

func (p *Platform) goRun(f func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// Close stops the background roles and closes the store cleanly.
func (p *Platform) Close() error {
	var err error
	p.once.Do(func() {
		if p.cancel != nil {
			p.cancel()
		}
		if p.bus != nil {
			_ = p.bus.Close()
		}
		p.wg.Wait()
		err = p.Store.Close()
	})
	return err
}

// graderPort adapts the grading command to the grader reactor.
type graderPort struct{ cmds *commands.Handlers }

func (g graderPort) GradeExam(ctx context.Context, examID, trigger string) error {
	m := commands.Meta{Actor: systemGrader}
	_, err := g.cmds.GradeExam.Handle(ctx, m, examID, trigger, false)
	return err
}

// tickerPort adapts the schedule command to the scheduler.
type tickerPort struct{ cmds *commands.Handlers }

func (t tickerPort) TickExam(ctx context.Context, examID string) error {
	_, err := t.cmds.ScheduleTick.Handle(ctx, examID)
	return err
}

var systemGrader = domain.SystemActor("grader")

// processCheckpoints keeps a relay checkpoint in memory, starting at a given
// position (see the shared-store case in build).
type processCheckpoints struct {
	mu    sync.Mutex
	start uint64
}

func (c *processCheckpoints) LoadCheckpoint(context.Context, string) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.start, nil
}

func (c *processCheckpoints) SaveCheckpoint(_ context.Context, _ string, pos uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.start = pos
	return nil
}
