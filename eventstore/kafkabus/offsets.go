package kafkabus

import (
	"context"
	"fmt"
	"sync"

	"github.com/IBM/sarama"
)

// EndOffsets reads where each partition of some topics ends: the offset
// the next record will get. A reader that has applied offset end-1 of
// every non-empty partition has seen everything published so far — which
// is how the API waits for projectors to pass a point of the log.
type EndOffsets struct {
	brokers []string
	mu      sync.Mutex
	client  sarama.Client // connected lazily; sarama reconnects it
}

// NewEndOffsets returns a reader; it connects on first use.
func NewEndOffsets(brokers []string) (*EndOffsets, error) {
	if errs := (common{Brokers: brokers}).validate("end offsets"); len(errs) > 0 {
		return nil, errs[0]
	}
	return &EndOffsets{brokers: brokers}, nil
}

// Read returns topic → partition → end offset.
func (e *EndOffsets) Read(ctx context.Context, topics []string) (map[string]map[int32]int64, error) {
	type result struct {
		ends map[string]map[int32]int64
		err  error
	}
	done := make(chan result, 1)
	go func() {
		ends, err := e.read(topics)
		done <- result{ends, err}
	}()
	select {
	case r := <-done:
		return r.ends, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("kafkabus: end offsets: %w", ctx.Err())
	}
}

func (e *EndOffsets) read(topics []string) (map[string]map[int32]int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.client == nil {
		c, err := sarama.NewClient(e.brokers, common{Brokers: e.brokers}.sarama())
		if err != nil {
			return nil, fmt.Errorf("kafkabus: end offsets: %w", err)
		}
		e.client = c
	}
	ends := map[string]map[int32]int64{}
	for _, topic := range topics {
		parts, err := e.client.Partitions(topic)
		if err != nil {
			return nil, fmt.Errorf("kafkabus: end offsets of %s: %w", topic, err)
		}
		ends[topic] = map[int32]int64{}
		for _, p := range parts {
			off, err := e.client.GetOffset(topic, p, sarama.OffsetNewest)
			if err != nil {
				return nil, fmt.Errorf("kafkabus: end offset of %s/%d: %w", topic, p, err)
			}
			ends[topic][p] = off
		}
	}
	return ends, nil
}

// Close releases the connection.
func (e *EndOffsets) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.client == nil {
		return nil
	}
	err := e.client.Close()
	e.client = nil
	return err
}
