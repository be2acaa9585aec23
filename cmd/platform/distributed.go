package platform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/cenkalti/backoff/v5"
	"github.com/examhall/exam/api"
	"github.com/examhall/exam/commands"
	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/eventstore/kafkabus"
	"github.com/examhall/exam/eventstore/relay"
	"github.com/examhall/exam/projections"
)

// kafkaRelayName is the Kafka relay's permanent checkpoint name.
const kafkaRelayName = "relay.kafka"

// consumerGroupPrefix names every projection's permanent consumer group:
// exam.projector.<projection name>. Renaming one replays everything.
const consumerGroupPrefix = "exam.projector."

// sharedReadModel is what the distributed mode needs of the PostgreSQL read
// models: the API's queries (all but the student documents), the
// scheduler's and grader's questions, and the projections that build it.
type sharedReadModel interface {
	Exam(ctx context.Context, id string) (*domain.Exam, bool, error)
	ListExams(ctx context.Context, f projections.ExamFilter) ([]*domain.Exam, bool, error)
	Levels(ctx context.Context) ([]domain.Level, error)
	User(ctx context.Context, id string) (*domain.User, bool, error)
	ListUsers(ctx context.Context, f projections.UserFilter) ([]*domain.User, bool, error)
	ExamResults(ctx context.Context, examID string) ([]projections.ResultRow, error)
	GradesApplied(ctx context.Context, examID string) (int64, error)
	StudentResult(ctx context.Context, examID, studentID string) (projections.ResultRow, bool, error)
	StudentResults(ctx context.Context, studentID string) ([]projections.ResultRow, error)
	ExamHead(ctx context.Context, id string) (version int64, found bool, err error)
	DueExams(ctx context.Context, now time.Time) ([]string, error)
	ExamsNeedingGrading(ctx context.Context) ([]string, error)
	Offsets(ctx context.Context, projection string) (map[string]map[int32]int64, error)
	Ping(ctx context.Context) error
}

// studentDocs serves the documents students fetch.
type studentDocs interface {
	Get(ctx context.Context, examID string) (projections.StudentDoc, bool, error)
}

// sharedParts are the distributed mode's shared adapters, opened once.
type sharedParts struct {
	readModel sharedReadModel
	// projections build the read models (the projector role runs them).
	projections []projections.Projection
	images      imageStore
	throttle    commands.LoginThrottle // nil: the process's own memory throttle
	// newDocs builds the student-document cache once the commands exist (it
	// reads exams the read model has not seen yet from the event store).
	newDocs func(loader projections.ExamLoader) (studentDocs, projections.Projection, error)
	closers []func() error
}

func (s *sharedParts) Close() error {
	var err error
	for i := len(s.closers) - 1; i >= 0; i-- {
		err = errors.Join(err, s.closers[i]())
	}
	return err
}

// distributedReads is the API's read model in the distributed mode.
type distributedReads struct {
	sharedReadModel
	docs studentDocs
}

func (d distributedReads) StudentExam(ctx context.Context, id string) (projections.StudentDoc, bool, error) {
	return d.docs.Get(ctx, id)
}

// startDistributed starts this process's roles over the shared parts. The
// bus is Kafka when configured (every role may run in another process), and
// otherwise an in-process bus fed by this process's relay (one process,
// PostgreSQL read models).
func (p *Platform) startDistributed(runCtx context.Context, cfg Config, shared *sharedParts) (api.ReadModel, api.Watermark, error) {
	log, cmds := p.Log, p.Commands
	docs, warmer, err := shared.newDocs(cmds.Repo)
	if err != nil {
		return nil, nil, err
	}
	reads := distributedReads{sharedReadModel: shared.readModel, docs: docs}
	grader := projections.NewGrader(shared.readModel, graderPort{cmds}, log)

	consumers := []projections.Projection{}
	if cfg.Roles.Has(RoleProjector) {
		consumers = append(consumers, shared.projections...)
		if warmer != nil {
			consumers = append(consumers, warmer)
		}
	}
	if cfg.Roles.Has(RoleGrader) {
		consumers = append(consumers, grader)
	}
	if cfg.Roles.Has(RoleProjector) && cfg.Caliper != "" {
		cal, closeCal, err := newCaliperProjection(cfg, log)
		if err != nil {
			return nil, nil, err
		}
		p.closers = append(p.closers, closeCal)
		consumers = append(consumers, cal)
	}

	var watermark api.Watermark
	if len(cfg.KafkaBrokers) > 0 {
		if cfg.Roles.Has(RoleRelay) {
			if err := p.startKafkaRelay(runCtx, cfg); err != nil {
				return nil, nil, err
			}
		}
		for _, c := range consumers {
			p.goRun(func() { p.consumeKafka(runCtx, cfg, c) })
		}
		ends, err := kafkabus.NewEndOffsets(cfg.KafkaBrokers)
		if err != nil {
			return nil, nil, err
		}
		p.closers = append(p.closers, ends.Close)
		watermark = &projectorWatermark{checkpoints: p.Store, offsets: shared.readModel, projections: shared.projections, ends: ends}
	} else {
		// One process: an in-process relay (durable checkpoint in the store)
		// feeds the projections over an in-process bus.
		p.bus = gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true, OutputChannelBuffer: 256}, watermill.NewSlogLogger(log.With("component", "bus")))
		for _, c := range consumers {
			// One runner per projection, as with Kafka, so a projection
			// whose store is down holds up only itself.
			if err := projections.NewRunner(log, c).Consume(runCtx, p.bus, nil); err != nil {
				return nil, nil, err
			}
		}
		p.Relay, err = relay.New(relay.Config{Name: relayName, Store: p.Store, Checkpoints: p.Store, Publisher: p.bus, Topics: relay.DefaultTopics, Logger: log})
		if err != nil {
			return nil, nil, err
		}
		p.goRun(func() {
			if err := p.Relay.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("relay stopped", "err", err)
			}
		})
		watermark = p.Relay
	}
	if cfg.Roles.Has(RoleGrader) {
		p.goRun(func() { grader.Run(runCtx, cfg.GraderReconcile) })
	}
	if cfg.Roles.Has(RoleScheduler) {
		sched := projections.NewScheduler(shared.readModel, tickerPort{cmds}, cfg.Now, log)
		p.goRun(func() { sched.Run(runCtx, cfg.SchedulerInterval) })
	}
	return reads, watermark, nil
}

// startKafkaRelay publishes every event of the store to Kafka, from the
// relay's durable checkpoint in the store. Kafka being down at start-up
// does not stop the process (the write side never waits for the bus): the
// relay connects, and reconnects, in the background.
func (p *Platform) startKafkaRelay(runCtx context.Context, cfg Config) error {
	log := p.Log.With("component", "relay.kafka")
	// With a shared store, of several relay processes one publishes and
	// the others stand by (two would publish everything twice).
	lead := func(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }
	if l, ok := p.Store.(leader); ok {
		lead = func(ctx context.Context, fn func(context.Context) error) error {
			return l.Lead(ctx, kafkaRelayName, fn)
		}
	}
	p.goRun(func() {
		retry(runCtx, log, "kafka relay", func() error {
			return lead(runCtx, func(runCtx context.Context) error { return p.runKafkaRelay(runCtx, cfg, log) })
		})
	})
	return nil
}

// leader is a store that can elect one process for a singleton role.
type leader interface {
	Lead(ctx context.Context, name string, fn func(ctx context.Context) error) error
}

// runKafkaRelay publishes the store's feed to Kafka until ctx ends or
// publishing fails (the caller retries).
func (p *Platform) runKafkaRelay(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := ensureTopics(ctx, cfg); err != nil {
		return err
	}
	pub, err := kafkabus.NewPublisher(kafkabus.PublisherConfig{Brokers: cfg.KafkaBrokers, Logger: log})
	if err != nil {
		return err
	}
	defer pub.Close()
	r, err := relay.New(relay.Config{Name: kafkaRelayName, Store: p.Store, Checkpoints: p.Store, Publisher: pub, Topics: relay.DefaultTopics, Logger: log})
	if err != nil {
		return err
	}
	log.Info("relay publishing to kafka", "brokers", cfg.KafkaBrokers)
	return r.Run(ctx)
}

// consumeKafka runs one durable projection as a member of its permanent
// consumer group until runCtx ends, reconnecting after failures.
func (p *Platform) consumeKafka(runCtx context.Context, cfg Config, c projections.Projection) {
	group := consumerGroupPrefix + c.Name()
	log := p.Log.With("component", "consumer", "group", group)
	retry(runCtx, log, "consumer "+group, func() error {
		if err := ensureTopics(runCtx, cfg); err != nil {
			return err
		}
		// A 6 s session (Kafka's default minimum) hands a dead projector's
		// partitions to the others within seconds.
		sub, err := kafkabus.NewSubscriber(kafkabus.SubscriberConfig{Brokers: cfg.KafkaBrokers, ConsumerGroup: group, Logger: log,
			SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second})
		if err != nil {
			return err
		}
		defer sub.Close()
		ctx, cancel := context.WithCancel(runCtx)
		defer cancel()
		runner := projections.NewRunner(log, c)
		if err := runner.Consume(ctx, sub, kafkabus.Origin); err != nil {
			return err
		}
		log.Info("consuming", "topics", runner.Topics())
		<-ctx.Done()
		return ctx.Err()
	})
}

func ensureTopics(ctx context.Context, cfg Config) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return kafkabus.EnsureTopics(ctx, cfg.KafkaBrokers, topicList(relay.DefaultTopics), cfg.KafkaPartitions)
}

// retry runs op (a role that runs until ctx ends, or fails) again and
// again until ctx ends, with a capped exponential backoff between failures.
func retry(ctx context.Context, log *slog.Logger, what string, op func() error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 200*time.Millisecond, 2*time.Second
	_, _ = backoff.Retry(ctx, func() (struct{}, error) {
		err := op()
		if ctx.Err() != nil {
			return struct{}{}, backoff.Permanent(ctx.Err())
		}
		if err == nil {
			err = errors.New("stopped")
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxTries(0), backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, in time.Duration) { log.Warn(what+" failed; retrying", "err", err, "in", in) }))
}

// renderedDocs serves student documents rendered from the PostgreSQL read
// model on every request (no Redis configured): always current, never
// keys before grading.
type renderedDocs struct {
	readModel sharedReadModel
	loader    projections.ExamLoader
}

func (r renderedDocs) Get(ctx context.Context, examID string) (projections.StudentDoc, bool, error) {
	e, ok, err := r.readModel.Exam(ctx, examID)
	if err != nil {
		return projections.StudentDoc{}, false, err
	}
	// A draft in the read model may be a publication it has not applied
	// yet: the event store decides.
	if !ok || e.Status == domain.StatusDraft {
		if e, err = r.loader.LoadExam(ctx, examID); err != nil {
			return projections.StudentDoc{}, false, err
		}
		if !e.Exists() {
			return projections.StudentDoc{}, false, nil
		}
	}
	if e.Status == domain.StatusDraft {
		return projections.StudentDoc{}, false, nil
	}
	doc, err := projections.RenderStudentDoc(e, projections.RenderStudentExam)
	if err != nil {
		return projections.StudentDoc{}, false, fmt.Errorf("render student exam: %w", err)
	}
	return doc, true, nil
}
