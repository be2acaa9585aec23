package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Topics and headers as docs/events.md documents them. Declared here, not
// imported from the platform: this consumer knows only the documented
// contract (a test checks the topics against the relay's).
const (
	defaultExamsTopic    = "exam.exams"
	defaultAttemptsTopic = "exam.attempts"

	headerType          = "ce_type"
	headerSubject       = "ce_subject"
	headerStreamVersion = "ce_streamversion"
)

// Config configures Consume.
type Config struct {
	// Brokers are the bootstrap addresses (host:port). Required.
	Brokers []string
	// Group is the consumer group. Empty: no group, every partition is read
	// by this process (the right choice for a single instance).
	Group string
	// ExamID keeps only this exam when not empty.
	ExamID string
	// Interval between two printed tables. Required (> 0).
	Interval time.Duration
	// ExamsTopic and AttemptsTopic default to exam.exams and exam.attempts.
	ExamsTopic, AttemptsTopic string
	Logger                    *slog.Logger
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("examstats: at least one broker is required (-brokers or EXAM_KAFKA_BROKERS)"))
	}
	for _, b := range c.Brokers {
		if b == "" {
			errs = append(errs, errors.New("examstats: empty broker address"))
		}
	}
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("examstats: interval must be positive, got %s", c.Interval))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.ExamsTopic == "" {
		c.ExamsTopic = defaultExamsTopic
	}
	if c.AttemptsTopic == "" {
		c.AttemptsTopic = defaultAttemptsTopic
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Consume reads both topics from their start into stats and prints the
// table to out every interval, until ctx ends (then it returns nil).
//
// The state lives in memory only, so offsets are never committed: every run
// rebuilds it from the start of the topics (they keep the whole history).
// With a group, a partition that moves to this member is read from its start
// too, and Stats ignores versions it has already applied.
func Consume(ctx context.Context, cfg Config, stats *Stats, out io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("examstats"),
		kgo.ConsumeTopics(cfg.ExamsTopic, cfg.AttemptsTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
	if cfg.Group != "" {
		opts = append(opts, kgo.ConsumerGroup(cfg.Group), kgo.DisableAutoCommit())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("examstats: kafka client: %w", err)
	}
	defer cl.Close()

	next := time.Now().Add(cfg.Interval)
	for {
		// Poll until the next print at the latest.
		pollCtx, cancel := context.WithDeadline(ctx, next)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			// The client retries by itself; say so and go on.
			cfg.Logger.WarnContext(ctx, "fetch failed", "topic", fe.Topic, "partition", fe.Partition, "err", fe.Err)
		}
		fetches.EachRecord(func(r *kgo.Record) { applyRecord(ctx, cfg.Logger, stats, r) })
		if now := time.Now(); !now.Before(next) {
			fmt.Fprintf(out, "\n%s\n", now.UTC().Format(time.RFC3339))
			if err := stats.Print(out); err != nil {
				return err
			}
			next = now.Add(cfg.Interval)
		}
	}
}

// applyRecord folds one record, reading only its headers and body. A record
// that is not a valid event is logged and skipped: one bad record must not
// stop the statistics.
func applyRecord(ctx context.Context, log *slog.Logger, stats *Stats, r *kgo.Record) {
	var typ, subject, version string
	for _, h := range r.Headers {
		switch h.Key {
		case headerType:
			typ = string(h.Value)
		case headerSubject:
			subject = string(h.Value)
		case headerStreamVersion:
			version = string(h.Value)
		}
	}
	if subject == "" {
		subject = string(r.Key) // the key is the stream id too
	}
	v, err := strconv.ParseInt(version, 10, 64)
	if err != nil {
		v = 0 // unknown: applied without deduplication
	}
	if err := stats.Apply(typ, subject, v, r.Value); err != nil {
		log.WarnContext(ctx, "skipping a bad record", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
	}
}
