package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/examhall/exam/api"
	"github.com/examhall/exam/auth"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/cassandra"
	"github.com/examhall/exam/eventstore/embedded"
	"github.com/examhall/exam/eventstore/postgres"
	"github.com/examhall/exam/eventstore/relay"
	"github.com/examhall/exam/internal/imagestore"
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

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	bus     *gochannel.GoChannel
	closers []func() error
	once    sync.Once
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
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel

	var images imageStore
	var throttle commands.LoginThrottle = auth.NewMemoryLoginThrottle(auth.ThrottleConfig{Now: cfg.Now})
	var shared *sharedParts
	if cfg.Distributed() {
		var err error
		if shared, err = openSharedParts(ctx, cfg, log); err != nil {
			return err
		}
		p.closers = append(p.closers, shared.Close)
		images = shared.images
		if shared.throttle != nil {
			throttle = shared.throttle
		}
	} else {
		fileImages, err := imagestore.NewFile(filepath.Join(cfg.DataDir, "images"))
		if err != nil {
			return err
		}
		images = fileImages
		if cfg.RedisURL != "" {
			// In-process read models keep their own documents; Redis still
			// shares the login throttle between replicas of a shared store.
			client, err := openRedis(cfg, log)
			if err != nil {
				return err
			}
			p.closers = append(p.closers, client.Close)
			if throttle, err = newRedisThrottle(cfg, client, log); err != nil {
				return err
			}
		}
	}
	cmds, err := commands.New(commands.Deps{
		Store: p.Store, Now: cfg.Now, Logger: log,
		Hasher:   auth.NewPasswordHasher(cfg.Argon2, 0),
		Tokens:   commandTokens{tokens},
		Throttle: throttle,
		// As many logins hash at once as the hasher runs: the rest wait in
		// the admission's bounded lanes, not on the hasher.
		Admission: auth.NewLoginAdmission(auth.AdmissionConfig{Slots: runtime.GOMAXPROCS(0)}),
		Images:    images,
	})
	if err != nil {
		return err
	}
	p.Commands = cmds

	var reads api.ReadModel
	var watermark api.Watermark
	if shared != nil {
		reads, watermark, err = p.startDistributed(runCtx, cfg, shared)
	} else {
		reads, watermark, err = p.startInProcess(ctx, runCtx, cfg)
	}
	if err != nil {
		return err
	}

	if cfg.AdminEmail != "" {
		created, err := cmds.BootstrapAdmin.Handle(ctx, cfg.AdminEmail, cfg.AdminPassword, "")
		if err != nil {
			return fmt.Errorf("bootstrap admin: %w", err)
		}
		if created {
			log.Info("bootstrap admin created", "email", cfg.AdminEmail)
		}
	}
	if !cfg.Roles.Has(RoleAPI) {
		return nil
	}
	ready := map[string]api.ReadyCheck{"eventstore": func(ctx context.Context) error {
		_, err := p.Store.Head(ctx)
		return err
	}}
	if shared != nil {
		ready["readmodel"] = shared.readModel.Ping
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	imports := api.NewAdmission(api.DefaultMaxConcurrentImports)
	p.Handler, err = api.NewHandler(api.Config{
		Commands: cmds, Reads: reads, Events: p.Store, Tokens: tokens, Watermark: watermark, Head: p.Store, Images: images,
		Logger: log, Registry: reg, MaxBodyBytes: cfg.MaxBodyBytes, AccessTTL: cfg.AccessTTL,
		ReadyChecks: ready, Now: cfg.Now, Imports: imports,
		Extra: withExamRoom(adminRoutes(adminWiring{Commands: cmds, Reads: reads, Events: p.Store, Images: images, Tokens: tokens, Log: log, Now: cfg.Now, Imports: imports})),
	})
	return err
}

// startInProcess builds the embedded read side: in-process read models
// rebuilt from the log, fed by an in-process relay over an in-process bus;
// the grader and scheduler read the same models. With Kafka configured, a
// second relay also publishes every event to Kafka for outside consumers.
func (p *Platform) startInProcess(ctx, runCtx context.Context, cfg Config) (api.ReadModel, api.Watermark, error) {
	log, cmds := p.Log, p.Commands
	catalog := projections.NewCatalog()
	cache := projections.NewStudentExamCache(catalog, cmds.Repo, projections.RenderStudentExam)
	results := projections.NewResults()
	p.Reads = &projections.InMemory{Catalog: catalog, Cache: cache, Results: results}
	grader := projections.NewGrader(p.Reads, graderPort{cmds}, log)
	p.Runner = projections.NewRunner(log, catalog, cache, results, grader)

	start := time.Now()
	caughtUp, err := p.Runner.CatchUp(ctx, p.Store, 0, nil)
	if err != nil {
		return nil, nil, err
	}
	log.Info("read models rebuilt from the event log", "events", p.Runner.Applied(), "took", time.Since(start))

	p.bus = gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true, OutputChannelBuffer: 256}, watermill.NewSlogLogger(log.With("component", "bus")))
	// The in-process relay feeds this process's own read models. With the
	// embedded store it keeps its durable checkpoint in the store. A shared
	// store has one checkpoint table for every replica, so there each process
	// starts its relay exactly where its own catch-up ended instead.
	var checkpoints eventstore.CheckpointStore = p.Store
	if cfg.EventStore != EventStoreEmbedded {
		checkpoints = &processCheckpoints{start: caughtUp}
	}
	p.Relay, err = relay.New(relay.Config{Name: relayName, Store: p.Store, Checkpoints: checkpoints, Publisher: p.bus, Topics: relay.DefaultTopics, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	if err := p.Runner.Consume(runCtx, p.bus, nil); err != nil {
		return nil, nil, err
	}
	p.goRun(func() {
		if err := p.Relay.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("relay stopped", "err", err)
		}
	})
	if len(cfg.KafkaBrokers) > 0 && cfg.Roles.Has(RoleRelay) {
		if err := p.startKafkaRelay(runCtx, cfg); err != nil {
			return nil, nil, err
		}
	}
	if cfg.Roles.Has(RoleGrader) {
		p.goRun(func() { grader.Run(runCtx, cfg.GraderReconcile) })
	}
	if cfg.Roles.Has(RoleScheduler) {
		sched := projections.NewScheduler(p.Reads, tickerPort{cmds}, cfg.Now, log)
		p.goRun(func() { sched.Run(runCtx, cfg.SchedulerInterval) })
	}
	return p.Reads, p.Relay, nil
}

func topicList(m map[string]string) []string {
	topics := make([]string, 0, len(m))
	for _, t := range m {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	return topics
}

// openEventStore opens the backend the configuration names: the embedded
// store in the data dir (default) or a shared PostgreSQL or Cassandra store, which lets
// several examd processes serve one platform (each keeps its own in-process
// read models, rebuilt from and following the shared log).
func openEventStore(ctx context.Context, cfg Config, log *slog.Logger) (EventStore, error) {
	switch cfg.EventStore {
	case EventStorePostgres:
		return postgres.Open(ctx, postgres.Config{URL: cfg.EventStorePostgresURL, Schema: cfg.EventStorePostgresSchema, Logger: log})
	case EventStoreCassandra:
		return cassandra.Open(ctx, cfg.cassandraConfig(log))
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
		for i := len(p.closers) - 1; i >= 0; i-- {
			err = errors.Join(err, p.closers[i]())
		}
		err = errors.Join(err, p.Store.Close())
	})
	return err
}

// graderPort adapts the grading command to the grader reactor.
type graderPort struct{ cmds *commands.Handlers }

func (g graderPort) NeedsGrading(ctx context.Context, examID string) (bool, error) {
	e, err := g.cmds.Repo.LoadExam(ctx, examID)
	if err != nil {
		return false, err
	}
	return e.NeedsGrading(), nil
}

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
