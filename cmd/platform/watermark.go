package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/examhall/exam/eventstore"
	"github.com/examhall/exam/eventstore/kafkabus"
	"github.com/examhall/exam/projections"
)

// projectorWatermark lets a client read its own writes in the distributed
// mode (X-Min-Position): it waits until the Kafka relay has published the
// position, then until every read-model projection has applied its topics
// up to where they ended at that moment. Kafka orders records only per
// partition, so "applied position P" is not a single number there; the end
// offsets read after the relay passed P cover P, and a projection that
// reached them has applied everything up to P.
type projectorWatermark struct {
	checkpoints eventstore.CheckpointStore
	offsets     interface {
		Offsets(ctx context.Context, projection string) (map[string]map[int32]int64, error)
	}
	projections []projections.Projection
	ends        *kafkabus.EndOffsets
}

func (w *projectorWatermark) WaitPublished(ctx context.Context, pos uint64) error {
	if err := poll(ctx, func() (bool, error) {
		published, err := w.checkpoints.LoadCheckpoint(ctx, kafkaRelayName)
		return published >= pos, err
	}); err != nil {
		return fmt.Errorf("wait for the relay: %w", err)
	}
	for _, p := range w.projections {
		topics := projections.Topics(p)
		ends, err := w.ends.Read(ctx, topics)
		if err != nil {
			return err
		}
		if err := poll(ctx, func() (bool, error) {
			applied, err := w.offsets.Offsets(ctx, p.Name())
			if err != nil {
				return false, err
			}
			for topic, parts := range ends {
				for part, end := range parts {
					if end > 0 {
						if got, ok := applied[topic][part]; !ok || got < end-1 {
							return false, nil
						}
					}
				}
			}
			return true, nil
		}); err != nil {
			return fmt.Errorf("wait for projection %s: %w", p.Name(), err)
		}
	}
	return nil
}

// poll checks cond with a growing pause (5 ms doubling to 100 ms) until it
// holds or ctx ends.
func poll(ctx context.Context, cond func() (bool, error)) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.RandomizationFactor = 5*time.Millisecond, 100*time.Millisecond, 0
	var last error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		ok, err := cond()
		if last = err; err == nil && ok {
			return struct{}{}, nil
		}
		return struct{}{}, errNotYet
	}, backoff.WithBackOff(b), backoff.WithMaxTries(0), backoff.WithMaxElapsedTime(0))
	if err != nil && last != nil {
		return fmt.Errorf("%w (last error: %v)", err, last)
	}
	return err
}

// errNotYet is poll's "the condition does not hold yet".
var errNotYet = errors.New("not yet")
