package wmtest

import (
	"context"
	"errors"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/wmbridge"
)

// maxMessageBytes is the Kafka broker's default message.max.bytes
// (1048588) less room for the record batch's own fields: the largest
// payload plus headers it takes. Sarama's own limit is set above it, so
// that the broker decides and answers MESSAGE_TOO_LARGE.
const maxMessageBytes = 1 << 20

// keyMarshaler is watermill-kafka's marshaler keyed by the Herald key
// (herald.Key), so that records of one key share a partition, as with
// Herald's own Kafka backend; its Unmarshal is the default one.
var keyMarshaler = kafka.NewWithPartitioningMarshaler(func(_ string, m *message.Message) (string, error) {
	return herald.Key(m), nil
})

// SaramaKafka is watermill-kafka on Sarama as a Herald backend: the URL's
// hosts are the brokers ("wmkafka://h1:9092,h2:9092?group=billing"), a
// group is a Kafka consumer group (no group: every partition from the
// oldest record, without commits). What it does, declared honestly:
//
//   - Durable, Groups: a Kafka log and consumer groups.
//   - Redelivery RedeliverBroker: msg.Nack() has watermill-kafka send the
//     record again (NackResendSleep: none here, the facade holds the
//     delay), before the later records of its partition.
//   - Order OrderKey: records are keyed by herald.Key, one partition per
//     key; watermill-kafka hands one record per partition at a time.
//   - MaxMessageSize: 1 MiB, the broker's default limit (message.max.bytes)
//     less the batch's own bytes; the broker refuses larger records
//     (herald.ErrTooLarge).
//   - DefaultWindow and MaxWindow 1: watermill-kafka hands out one
//     unacked record per partition (topics it creates have the broker's
//     default partitions, one here).
func SaramaKafka() wmbridge.Backend {
	return wmbridge.Backend{
		NewPublisher: func(_ context.Context, cfg herald.Config, logger watermill.LoggerAdapter) (message.Publisher, error) {
			sc := kafka.DefaultSaramaSyncPublisherConfig()
			sc.Version = sarama.V3_0_0_0
			sc.Producer.MaxMessageBytes = 2 * maxMessageBytes
			sc.Metadata.Retry.Backoff = 250 * time.Millisecond
			return kafka.NewPublisher(kafka.PublisherConfig{Brokers: cfg.Hosts, Marshaler: keyMarshaler, OverwriteSaramaConfig: sc}, logger)
		},
		NewSubscriber: func(_ context.Context, cfg herald.Config, logger watermill.LoggerAdapter) (message.Subscriber, error) {
			sc := kafka.DefaultSaramaSubscriberConfig()
			sc.Version = sarama.V3_0_0_0
			sc.Consumer.Offsets.Initial = sarama.OffsetOldest
			return kafka.NewSubscriber(kafka.SubscriberConfig{
				Brokers:               cfg.Hosts,
				Unmarshaler:           keyMarshaler,
				ConsumerGroup:         cfg.Group,
				OverwriteSaramaConfig: sc,
				NackResendSleep:       kafka.NoSleep,
				ReconnectRetrySleep:   250 * time.Millisecond,
				// Prepare (SubscribeInitialize) creates the topic with the
				// broker's default partitions and replication factor.
				InitializeTopicDetails: &sarama.TopicDetail{NumPartitions: -1, ReplicationFactor: -1},
			}, logger)
		},
		Capabilities: func(herald.Config) adapters.Capabilities {
			return adapters.Capabilities{
				Durable:        true,
				Groups:         true,
				Redelivery:     adapters.RedeliverBroker,
				Order:          adapters.OrderKey,
				MaxMessageSize: maxMessageBytes,
				DefaultWindow:  1,
				MaxWindow:      1,
			}
		},
		ErrorKind: func(err error) herald.Kind {
			if errors.Is(err, sarama.ErrMessageSizeTooLarge) {
				return herald.KindTooLarge
			}
			return herald.KindOther
		},
	}
}
