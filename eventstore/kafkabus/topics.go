package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// EnsureTopics creates the topics that do not exist yet, each with the
// given number of partitions and the brokers' default replication factor.
// Existing topics are left as they are (their partition count is not
// changed: that would move keys to other partitions). It is safe to run
// concurrently from several processes.
func EnsureTopics(ctx context.Context, brokers []string, topics []string, partitions int) error {
	var errs []error
	if err := (common{Brokers: brokers}).validate("ensure topics"); err != nil {
		errs = append(errs, err...)
	}
	if partitions < 1 {
		errs = append(errs, fmt.Errorf("kafkabus: ensure topics: partitions must be at least 1, got %d", partitions))
	}
	for _, t := range topics {
		if t == "" {
			errs = append(errs, errors.New("kafkabus: ensure topics: empty topic name"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if len(topics) == 0 {
		return nil
	}
	sc := common{Brokers: brokers}.sarama()
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			sc.Admin.Timeout = d
		}
	}
	type result struct{ err error }
	done := make(chan result, 1)
	go func() { done <- result{ensureTopics(sc, brokers, topics, int32(partitions))} }()
	select {
	case r := <-done:
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("kafkabus: ensure topics: %w", ctx.Err())
	}
}

func ensureTopics(sc *sarama.Config, brokers, topics []string, partitions int32) (err error) {
	admin, err := sarama.NewClusterAdmin(brokers, sc)
	if err != nil {
		return fmt.Errorf("kafkabus: ensure topics: %w", err)
	}
	defer func() {
		if cerr := admin.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("kafkabus: ensure topics: close admin: %w", cerr)
		}
	}()
	existing, err := admin.ListTopics()
	if err != nil {
		return fmt.Errorf("kafkabus: ensure topics: list: %w", err)
	}
	var errs []error
	for _, t := range topics {
		if _, ok := existing[t]; ok {
			continue
		}
		// -1: the brokers' default.replication.factor (CreateTopics v4+).
		detail := &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: -1}
		if err := admin.CreateTopic(t, detail, false); err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("kafkabus: ensure topics: create %s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}
