package heraldtest_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/heraldtest"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// quiet is a logger for subscribers whose failures a test causes.
var quiet = slog.New(slog.DiscardHandler)

// testCtx bounds a test: Drain and Idle never need it unless something is
// stuck, and then its error says what.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openPub(t *testing.T, h *heraldtest.Harness, opts ...publisher.Option) *publisher.Publisher {
	t.Helper()
	pub, err := publisher.Open(context.Background(), h.URL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	return pub
}

// subscribe runs h on topic for group until the test ends and returns
// once the subscription is running.
func subscribe(t *testing.T, hs *heraldtest.Harness, topic, group string, h herald.Handler, opts ...subscriber.Option) *subscriber.Subscriber {
	t.Helper()
	ready := make(chan struct{})
	opts = append([]subscriber.Option{subscriber.WithLogger(quiet), subscriber.WithReady(func(string) { close(ready) })}, opts...)
	if group != "" {
		opts = append(opts, subscriber.WithGroup(group))
	}
	sub, err := subscriber.Open(context.Background(), hs.URL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sub.Subscribe(context.Background(), topic, h) }()
	t.Cleanup(func() {
		_ = sub.Close()
		if err := <-done; err != nil {
			t.Errorf("Subscribe(%q): %v", topic, err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Subscribe(%q) = %v before it was ready", topic, err)
	}
	return sub
}

func publish(t *testing.T, pub herald.Publisher, topic string, payloads ...string) []*herald.Message {
	t.Helper()
	var ms []*herald.Message
	for _, p := range payloads {
		m := herald.NewMessage([]byte(p))
		if err := pub.Publish(context.Background(), topic, m); err != nil {
			t.Fatalf("Publish(%q, %s): %v", topic, p, err)
		}
		ms = append(ms, m)
	}
	return ms
}

func payloads(ms []*herald.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Payload)
	}
	return out
}

func openPubErr(u string) (*publisher.Publisher, error) {
	return publisher.Open(context.Background(), u)
}

func withConcurrency(n int) subscriber.Option { return subscriber.WithConcurrency(n) }

func withMiddleware(m ...herald.Middleware) subscriber.Option { return subscriber.WithMiddleware(m...) }

func subscriberDrain(d time.Duration) subscriber.Option { return subscriber.WithDrainTimeout(d) }
