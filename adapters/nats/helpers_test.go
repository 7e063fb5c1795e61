package nats_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/adaptertest"
)

var topicSeq atomic.Int64

// topic returns a fresh topic name for the test.
func topic(t testing.TB) string {
	name := strings.NewReplacer("/", ".", " ", "_", "#", "_").Replace(t.Name())
	return fmt.Sprintf("herald.test.%s.%d.%d", name, time.Now().UnixNano(), topicSeq.Add(1))
}

// brokerURL returns HERALD_TEST_NATS or skips.
func brokerURL(t testing.TB) string {
	t.Helper()
	return adaptertest.BrokerURL(t, "HERALD_TEST_NATS")
}

// withQuery appends query parameters to u.
func withQuery(u, q string) string {
	if q == "" {
		return u
	}
	if strings.Contains(u, "?") {
		return u + "&" + q
	}
	return u + "?" + q
}

func openPub(t testing.TB, target string) message.Publisher {
	t.Helper()
	p, err := adapters.OpenPublisher(context.Background(), target)
	if err != nil {
		t.Fatalf("open publisher %s: %v", target, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func openSub(t testing.TB, target string) message.Subscriber {
	t.Helper()
	s, err := adapters.OpenSubscriber(context.Background(), target)
	if err != nil {
		t.Fatalf("open subscriber %s: %v", target, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func subscribe(t testing.TB, s message.Subscriber, topic string) <-chan *message.Message {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := s.Subscribe(ctx, topic)
	if err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	return ch
}

func newMsgs(n int, prefix string) []*message.Message {
	out := make([]*message.Message, n)
	for i := range out {
		out[i] = herald.NewMessage([]byte(fmt.Sprintf("%s-%d", prefix, i)))
	}
	return out
}

// receive acks and returns n messages from ch, failing after wait.
func receive(t testing.TB, ch <-chan *message.Message, n int, wait time.Duration) []*message.Message {
	t.Helper()
	var got []*message.Message
	deadline := time.After(wait)
	for len(got) < n {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed after %d of %d messages", len(got), n)
			}
			m.Ack()
			got = append(got, m)
		case <-deadline:
			t.Fatalf("received %d of %d messages in %v", len(got), n, wait)
		}
	}
	return got
}

// none fails if ch delivers a message within d.
func none(t testing.TB, ch <-chan *message.Message, d time.Duration) {
	t.Helper()
	select {
	case m, ok := <-ch:
		if ok {
			t.Fatalf("unexpected message %s %q", m.UUID, m.Payload)
		}
	case <-time.After(d):
	}
}
