// Command examstats is an example analytics consumer: it reads the
// platform's events from Kafka with a plain franz-go client (none of the
// platform's code, only the contract in docs/events.md: topics, CloudEvents
// ce_* headers, JSON bodies) and prints live per-question answer
// distributions.
//
//	examstats [-brokers host:port,...] [-group examstats] [-exam <exam id>] [-interval 5s]
//
// It reads exam.exams for the questions and choices (exam.drafted.v1,
// exam.updated.v1, exam.question_added/updated/removed.v1) and exam.attempts
// for the answers (attempt.answer_saved.v1; the latest answer of each attempt
// to each question counts), and every -interval prints a table:
//
//	exam 4f1c… "Midterm"
//	question       choice    count  percent
//	q1 2+2?        a 3       0      0.0%
//	q1 2+2?        b 4       7      87.5%
//
// Percent is of the attempts that answer the question. The state is in
// memory and rebuilt from the start of the topics on every run; no offsets
// are committed.
//
// Flags default from the environment: -brokers from EXAM_KAFKA_BROKERS,
// -group from EXAM_STATS_GROUP, -exam from EXAM_STATS_EXAM, -interval from
// EXAM_STATS_INTERVAL.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, log); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		log.Error("examstats failed", "err", err)
		os.Exit(1)
	}
}

// run parses args (defaults from getenv) and consumes until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer, log *slog.Logger) error {
	cfg, err := parseFlags(args, getenv)
	if err != nil {
		return err
	}
	cfg.Logger = log
	log.InfoContext(ctx, "consuming", "brokers", cfg.Brokers, "group", cfg.Group, "exam", cfg.ExamID, "interval", cfg.Interval)
	return Consume(ctx, cfg, NewStats(cfg.ExamID), out)
}

func parseFlags(args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("examstats", flag.ContinueOnError)
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	brokers := fs.String("brokers", env("EXAM_KAFKA_BROKERS", ""), "comma-separated Kafka bootstrap addresses (EXAM_KAFKA_BROKERS)")
	group := fs.String("group", env("EXAM_STATS_GROUP", "examstats"), `consumer group; "" reads every partition without a group (EXAM_STATS_GROUP)`)
	exam := fs.String("exam", env("EXAM_STATS_EXAM", ""), "only this exam id (EXAM_STATS_EXAM)")
	interval := fs.String("interval", env("EXAM_STATS_INTERVAL", "5s"), "time between two printed tables (EXAM_STATS_INTERVAL)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("examstats: unexpected arguments %q", fs.Args())
	}
	var errs []error
	d, err := time.ParseDuration(*interval)
	if err != nil {
		errs = append(errs, fmt.Errorf("examstats: -interval: %w", err))
	}
	cfg := Config{Group: *group, ExamID: *exam, Interval: d}
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, cfg.Validate())
	}
	return cfg, errors.Join(errs...)
}
