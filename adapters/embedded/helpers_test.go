package embedded_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

var seq atomic.Int64

func topic() string { return fmt.Sprintf("herald.embedded.t%d.%d", time.Now().UnixNano(), seq.Add(1)) }

func target(dir, query string) string {
	u := "embedded://" + dir
	if query != "" {
		u += "?" + query
	}
	return u
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

func publishN(t testing.TB, p message.Publisher, topic string, n int, prefix string) []string {
	t.Helper()
	ids := make([]string, n)
	msgs := make([]*message.Message, n)
	for i := range msgs {
		msgs[i] = herald.NewMessage([]byte(fmt.Sprintf("%s-%d", prefix, i)))
		ids[i] = msgs[i].UUID
	}
	if err := p.Publish(topic, msgs...); err != nil {
		t.Fatalf("publish: %v", err)
	}
	return ids
}

// receive acks and returns the IDs of n messages from ch, in order.
func receive(t testing.TB, ch <-chan *message.Message, n int, wait time.Duration) []string {
	t.Helper()
	var got []string
	deadline := time.After(wait)
	for len(got) < n {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed after %d of %d messages", len(got), n)
			}
			m.Ack()
			got = append(got, m.UUID)
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

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// openPubNoCleanup opens a publisher the test closes itself.
func openPubNoCleanup(t testing.TB, target string) message.Publisher {
	t.Helper()
	p, err := adapters.OpenPublisher(context.Background(), target)
	if err != nil {
		t.Fatalf("open publisher %s: %v", target, err)
	}
	return p
}

// openSubNoCleanup opens a subscriber the test closes itself.
func openSubNoCleanup(t testing.TB, target string) message.Subscriber {
	t.Helper()
	s, err := adapters.OpenSubscriber(context.Background(), target)
	if err != nil {
		t.Fatalf("open subscriber %s: %v", target, err)
	}
	return s
}
