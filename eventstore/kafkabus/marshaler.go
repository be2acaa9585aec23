package kafkabus

import (
	"fmt"
	"sort"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/examhall/exam/eventstore/relay"
)

// Marshaler converts watermill messages to Kafka records and back following
// the CloudEvents Kafka binding in binary mode:
//
//   - key: the stream id, from the partition_key metadata (ce_subject when
//     partition_key is missing; a message with neither is refused, since a
//     record without a key would lose its stream's order);
//   - value: the payload (the event's JSON data);
//   - headers: every other metadata entry (ce_*, content-type), sorted by
//     name. partition_key is not repeated as a header: it is the key.
//
// The watermill message UUID is the CloudEvents id; only a message whose
// UUID differs from its ce_id also carries watermill's
// _watermill_message_uuid header. Unmarshal restores the metadata,
// partition_key included, and never fails: a record that is not a valid
// event reaches the consumer, whose decoder rejects it (a poison record
// must not stop the partition).
type Marshaler struct{}

var _ kafka.MarshalerUnmarshaler = Marshaler{}

// Marshal implements kafka.Marshaler.
func (Marshaler) Marshal(topic string, msg *message.Message) (*sarama.ProducerMessage, error) {
	md := msg.Metadata
	if md.Get(kafka.UUIDHeaderKey) != "" {
		return nil, fmt.Errorf("kafkabus: message %s: metadata %s is reserved", msg.UUID, kafka.UUIDHeaderKey)
	}
	key := md.Get(relay.HeaderPartitionKey)
	if key == "" {
		key = md.Get(relay.HeaderSubject)
	}
	if key == "" {
		return nil, fmt.Errorf("kafkabus: message %s has no %s (or %s) metadata: the record key must be the stream id",
			msg.UUID, relay.HeaderPartitionKey, relay.HeaderSubject)
	}
	names := make([]string, 0, len(md))
	for k := range md {
		if k != relay.HeaderPartitionKey {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	headers := make([]sarama.RecordHeader, 0, len(names)+1)
	if md.Get(relay.HeaderID) != msg.UUID {
		headers = append(headers, sarama.RecordHeader{Key: []byte(kafka.UUIDHeaderKey), Value: []byte(msg.UUID)})
	}
	for _, k := range names {
		headers = append(headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(md[k])})
	}
	return &sarama.ProducerMessage{
		Topic:   topic,
		Key:     sarama.StringEncoder(key),
		Value:   sarama.ByteEncoder(msg.Payload),
		Headers: headers,
	}, nil
}

// Unmarshal implements kafka.Unmarshaler.
func (Marshaler) Unmarshal(rec *sarama.ConsumerMessage) (*message.Message, error) {
	md := make(message.Metadata, len(rec.Headers)+1)
	uuid := ""
	for _, h := range rec.Headers {
		if h == nil {
			continue
		}
		if string(h.Key) == kafka.UUIDHeaderKey {
			uuid = string(h.Value)
			continue
		}
		md[string(h.Key)] = string(h.Value)
	}
	if uuid == "" {
		uuid = md[relay.HeaderID]
	}
	if rec.Key != nil {
		md[relay.HeaderPartitionKey] = string(rec.Key)
	}
	msg := message.NewMessage(uuid, rec.Value)
	msg.Metadata = md
	return msg, nil
}
