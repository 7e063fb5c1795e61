package cetest

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkasdk "github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
	_ "github.com/heraldkit/herald/adapters/kafka"
	"github.com/heraldkit/herald/cloudevents"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

var modes = []cloudevents.Mode{cloudevents.Binary, cloudevents.Structured}

// kafkaBrokers returns Herald's target and the broker list for Sarama,
// and deletes the topics named by the returned function, and the
// consumer groups of the same names, at the end.
func kafkaBrokers(t *testing.T) (target string, brokers []string, topic func(string) string) {
	t.Helper()
	target = adaptertest.BrokerURL(t, "HERALD_TEST_KAFKA")
	hosts, _, _ := strings.Cut(strings.TrimPrefix(target, "kafka://"), "?")
	brokers = strings.Split(hosts, ",")
	var topics []string
	t.Cleanup(func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			return
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		adm := kadm.NewClient(cl)
		_, _ = adm.DeleteGroups(ctx, topics...) // each test's groups are named after its topic
		_, _ = adm.DeleteTopics(ctx, topics...)
	})
	run := herald.NewID()
	return target, brokers, func(name string) string {
		n := "cetest-" + name + "-" + strings.ToLower(run)
		topics = append(topics, n)
		return n
	}
}

func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V2_8_0_0
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	return c
}

// TestKafkaSDKToHerald: an event sent by sdk-go's Sarama binding (its
// default key mapping puts partitionkey in the record key) is read by
// Herald on franz-go with every attribute, extension and the key.
func TestKafkaSDKToHerald(t *testing.T) {
	target, brokers, topicName := kafkaBrokers(t)
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			topic := topicName("to-herald-" + mode.String())
			sub, err := subscriber.Open(ctx, target, subscriber.WithGroup(topic))
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if err := sub.Prepare(ctx, topic); err != nil {
				t.Fatal(err)
			}
			sender, err := kafkasdk.NewSender(brokers, saramaConfig(), topic)
			if err != nil {
				t.Fatal(err)
			}
			defer sender.Close(ctx)
			id := "sdk-" + herald.NewID()
			subject := "orders/1 (Euro € 😀) 100%"
			ev := sdkEvent(id, subject)
			sctx := ctx
			if mode == cloudevents.Structured {
				sctx = binding.WithForceStructured(ctx)
			}
			if err := sender.Send(sctx, binding.ToMessage(&ev)); err != nil {
				t.Fatal(err)
			}
			got := receiveHerald(t, ctx, sub, topic)
			checkHerald(t, got.ev, id, subject, mode)
			if got.key != evPartKey {
				t.Errorf("Herald key %q, want the record key %q", got.key, evPartKey)
			}
			// A foreign record's message ID is its position, not the event ID.
			if !regexp.MustCompile(`^` + regexp.QuoteMeta(topic) + `/[0-9]+/[0-9]+$`).MatchString(got.id) {
				t.Errorf("Herald message ID %q, want %s/<partition>/<offset>", got.id, topic)
			}
			wantCT := "application/json"
			if mode == cloudevents.Structured {
				wantCT = "application/cloudevents+json"
			}
			if !strings.HasPrefix(got.contentType, wantCT) {
				t.Errorf("content-type header %q, want %s", got.contentType, wantCT)
			}
		})
	}
}

// TestKafkaHeraldToSDK: an event Herald publishes on franz-go is read by
// sdk-go's Sarama binding with every attribute and extension.
func TestKafkaHeraldToSDK(t *testing.T) {
	target, brokers, topicName := kafkaBrokers(t)
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			topic := topicName("to-sdk-" + mode.String())
			pub, err := publisher.Open(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			id := "herald-" + herald.NewID()
			subject := "orders/1 (Euro € 😀) 100%"
			if err := cloudevents.Publish(ctx, pub, topic, "", heraldEvent(id, subject), cloudevents.WithMode(mode), cloudevents.WithPartitionKey()); err != nil {
				t.Fatal(err)
			}
			consumer, err := kafkasdk.NewConsumer(brokers, saramaConfig(), topic, topic)
			if err != nil {
				t.Fatal(err)
			}
			defer consumer.Close(ctx)
			go func() { _ = consumer.OpenInbound(ctx) }()
			msg, err := consumer.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer msg.Finish(nil)
			wantEnc := binding.EncodingBinary
			if mode == cloudevents.Structured {
				wantEnc = binding.EncodingStructured
			}
			if enc := msg.ReadEncoding(); enc != wantEnc {
				t.Errorf("sdk-go sees encoding %v, want %v", enc, wantEnc)
			}
			got, err := binding.ToEvent(ctx, msg)
			if err != nil {
				t.Fatal(err)
			}
			if mode == cloudevents.Binary { // the receiver adds these
				for _, k := range []string{"kafkatopic", "kafkapartition", "kafkaoffset"} {
					if _, ok := got.Extensions()[k]; !ok {
						t.Errorf("sdk-go added no %s extension", k)
					}
					delete(got.Extensions(), k)
				}
			}
			checkSDK(t, *got, id, subject)
		})
	}
}

type heraldReceived struct {
	ev                   cloudevents.Event
	id, key, contentType string // the Herald message ID, key and content type
}

// receiveHerald subscribes to topic with cloudevents.Handler and returns
// the first event.
func receiveHerald(t *testing.T, ctx context.Context, sub herald.Subscriber, topic string) heraldReceived {
	t.Helper()
	got := make(chan heraldReceived, 1)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		_ = sub.Subscribe(sctx, topic, cloudevents.Handler(func(_ context.Context, ev cloudevents.Event, m *herald.Message) error {
			ct := m.Metadata.Get("content-type")
			if ct == "" {
				ct = m.Metadata.Get("Content-Type")
			}
			select {
			case got <- heraldReceived{ev, m.UUID, herald.Key(m), ct}:
			default:
			}
			return nil
		}))
	}()
	select {
	case r := <-got:
		return r
	case <-ctx.Done():
		t.Fatal("Herald received no event")
	}
	return heraldReceived{}
}
