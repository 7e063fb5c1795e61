package kafka_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

// brokerURL returns HERALD_TEST_KAFKA or skips (fails under
// HERALD_REQUIRE_BROKERS=1).
func brokerURL(tb testing.TB) string {
	tb.Helper()
	return adaptertest.BrokerURL(tb, "HERALD_TEST_KAFKA")
}

// withQuery appends query (k=v&...) to a target URL.
func withQuery(target, query string) string {
	if query == "" {
		return target
	}
	if strings.Contains(target, "?") {
		return target + "&" + query
	}
	return target + "?" + query
}

// brokers returns the host:port list of a kafka:// target.
func brokers(tb testing.TB, target string) []string {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Split(u.Host, ",")
}

func uniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "." + hex.EncodeToString(b[:])
}

func openPub(tb testing.TB, target string) message.Publisher {
	tb.Helper()
	p, err := adapters.OpenPublisher(context.Background(), target)
	if err != nil {
		tb.Fatalf("OpenPublisher(%s): %v", target, err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return p
}

func openSub(tb testing.TB, target string) message.Subscriber {
	tb.Helper()
	s, err := adapters.OpenSubscriber(context.Background(), target)
	if err != nil {
		tb.Fatalf("OpenSubscriber(%s): %v", target, err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func subscribe(tb testing.TB, s message.Subscriber, topic string) <-chan *message.Message {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	ch, err := s.Subscribe(ctx, topic)
	if err != nil {
		tb.Fatalf("Subscribe(%q): %v", topic, err)
	}
	return ch
}

// receive takes n messages from ch, acking each, within d.
func receive(tb testing.TB, ch <-chan *message.Message, n int, d time.Duration) []*message.Message {
	tb.Helper()
	var got []*message.Message
	timeout := time.After(d)
	for len(got) < n {
		select {
		case m, ok := <-ch:
			if !ok {
				tb.Fatalf("channel closed after %d of %d messages", len(got), n)
			}
			m.Ack()
			got = append(got, m)
		case <-timeout:
			tb.Fatalf("received %d of %d messages within %v", len(got), n, d)
		}
	}
	return got
}

// none checks that ch yields nothing for d.
func none(tb testing.TB, ch <-chan *message.Message, d time.Duration) {
	tb.Helper()
	select {
	case m := <-ch:
		tb.Fatalf("unexpected message %s %q", m.UUID, m.Payload)
	case <-time.After(d):
	}
}

func publish(tb testing.TB, p message.Publisher, topic string, msgs ...*message.Message) {
	tb.Helper()
	if err := p.Publish(topic, msgs...); err != nil {
		tb.Fatalf("Publish(%q): %v", topic, err)
	}
}

// saramaClient returns a raw Sarama client, as another application would
// use, for checks from outside Herald.
func saramaClient(tb testing.TB, target string) sarama.Client {
	tb.Helper()
	conf := sarama.NewConfig()
	conf.Version = sarama.V3_6_0_0
	conf.Producer.Return.Successes = true
	conf.Consumer.Offsets.Initial = sarama.OffsetOldest
	c, err := sarama.NewClient(brokers(tb, target), conf)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func setNackDelay(m *message.Message, d time.Duration) { adapters.SetNackDelay(m, d) }
