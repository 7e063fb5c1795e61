package wmtest

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// plainKafka is what a plain watermill-kafka application uses: Sarama,
// watermill-kafka's DefaultMarshaler, a consumer group from the oldest
// record.
func plainKafka(t *testing.T) (brokers []string, pub message.Publisher, newSub func(group string) message.Subscriber) {
	t.Helper()
	brokers = strings.Split(strings.TrimPrefix(brokerURL(t, "HERALD_TEST_KAFKA"), "kafka://"), ",")
	for i, b := range brokers {
		brokers[i], _, _ = strings.Cut(b, "?")
	}
	p, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: brokers, Marshaler: kafka.DefaultMarshaler{}}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	newSub = func(group string) message.Subscriber {
		sc := kafka.DefaultSaramaSubscriberConfig()
		sc.Consumer.Offsets.Initial = sarama.OffsetOldest
		s, err := kafka.NewSubscriber(kafka.SubscriberConfig{
			Brokers: brokers, Unmarshaler: kafka.DefaultMarshaler{}, ConsumerGroup: group, OverwriteSaramaConfig: sc,
		}, watermill.NopLogger{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	return brokers, p, newSub
}

// TestWatermillKafkaInterop: a plain watermill-kafka application and
// Herald's Kafka backend (franz-go) read each other's messages: the same
// UUID, payload and metadata, both ways.
func TestWatermillKafkaInterop(t *testing.T) {
	t.Parallel()
	target := brokerURL(t, "HERALD_TEST_KAFKA")
	_, wmPub, wmSub := plainKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	run := watermill.NewShortUUID()
	md := message.Metadata{"tenant": "acme", "trace": "t-1", "empty": "", "utf8": "été ✓"}

	t.Run("watermill-kafka to Herald", func(t *testing.T) {
		topic := "interop-to-herald-" + run
		ready := make(chan string, 1)
		sub, err := subscriber.Open(ctx, target, subscriber.WithGroup("interop-"+run), subscriber.WithReady(func(topic string) { ready <- topic }))
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		got := make(chan *herald.Message, 1)
		go func() {
			_ = sub.Subscribe(ctx, topic, func(_ context.Context, m *herald.Message) error {
				got <- m.Copy()
				return nil
			})
		}()
		select {
		case <-ready:
		case <-ctx.Done():
			t.Fatal("the Herald subscriber was not ready")
		}
		sent := message.NewMessage("wm-"+watermill.NewUUID(), []byte("from watermill-kafka"))
		sent.Metadata = maps.Clone(md)
		if err := wmPub.Publish(topic, sent); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			same(t, m, sent)
		case <-ctx.Done():
			t.Fatal("Herald received nothing")
		}
	})

	t.Run("Herald to watermill-kafka", func(t *testing.T) {
		topic := "interop-to-watermill-" + run
		pub, err := publisher.Open(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		sent := herald.NewMessage([]byte("from Herald"))
		sent.UUID = "herald-" + watermill.NewUUID()
		sent.Metadata = maps.Clone(md)
		if err := pub.Publish(ctx, topic, sent); err != nil {
			t.Fatal(err)
		}
		msgs, err := wmSub("interop-wm-"+run).Subscribe(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-msgs:
			m.Ack()
			same(t, m, sent)
		case <-ctx.Done():
			t.Fatal("watermill-kafka received nothing")
		}
	})
}

// same fails t unless got has want's UUID, payload and metadata.
func same(t *testing.T, got, want *message.Message) {
	t.Helper()
	if got.UUID != want.UUID {
		t.Errorf("UUID %q, want %q", got.UUID, want.UUID)
	}
	if string(got.Payload) != string(want.Payload) {
		t.Errorf("payload %q, want %q", got.Payload, want.Payload)
	}
	if !maps.Equal(got.Metadata, want.Metadata) {
		t.Errorf("metadata %v, want %v", got.Metadata, want.Metadata)
	}
}
