package kafkabus

import (
	"fmt"

	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
)

// NewSubscriber returns a consumer-group subscriber (watermill-kafka's).
// Each Subscribe(ctx, topic) joins the group for that topic; the group's
// partitions are shared among every member subscribed to the topic, and
// rebalanced (sticky) when members come or go. Messages of a partition are
// delivered one at a time, in order: the next only after the previous is
// acked. An acked message's offset is marked and committed (every
// CommitInterval and when a session ends); a nacked one is delivered again.
// A message whose offset was not committed when its member left is
// delivered again to the member that takes the partition over: at least
// once.
func NewSubscriber(cfg SubscriberConfig) (message.Subscriber, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.common().logger().With("component", "kafkabus.subscriber", "group", cfg.ConsumerGroup)
	sub, err := kafka.NewSubscriber(kafka.SubscriberConfig{
		Brokers:               cfg.Brokers,
		Unmarshaler:           Marshaler{},
		OverwriteSaramaConfig: cfg.saramaConfig(),
		ConsumerGroup:         cfg.ConsumerGroup,
		NackResendSleep:       cfg.NackResendSleep,
		ReconnectRetrySleep:   cfg.ReconnectRetrySleep,
	}, newWatermillLogger(log))
	if err != nil {
		return nil, fmt.Errorf("kafkabus: new subscriber: %w", err)
	}
	return sub, nil
}

// Origin tells which partition and offset a consumed message came from
// (projections store it as their checkpoint). ok is false for a message
// that did not come from this adapter's subscriber.
func Origin(msg *message.Message) (partition int32, offset int64, ok bool) {
	p, okP := kafka.MessagePartitionFromCtx(msg.Context())
	o, okO := kafka.MessagePartitionOffsetFromCtx(msg.Context())
	return p, o, okP && okO
}
