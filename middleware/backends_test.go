package middleware_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters/adaptertest"
	_ "github.com/heraldkit/herald/adapters/all"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// eachBackend runs fn on every backend, in parallel (adaptertest.EachBackend).
func eachBackend(t *testing.T, fn func(t *testing.T, target string)) {
	adaptertest.EachBackend(t, "mw", fn)
}

// waitFor bounds every wait for a message.
const waitFor = 60 * time.Second

func uniq(prefix string) string { return adaptertest.UniqueName(prefix) }

func openPub(t *testing.T, target string, mws ...herald.PublishMiddleware) *publisher.Publisher {
	t.Helper()
	p, err := publisher.Open(context.Background(), target, publisher.WithMiddleware(mws...))
	if err != nil {
		t.Fatalf("publisher.Open(%s): %v", target, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// startSub runs Subscribe(topic, h) for a new subscriber in group in the
// background, returns once the subscription is ready and stops it at
// cleanup.
func startSub(t *testing.T, target, group, topic string, h herald.Handler, opts ...subscriber.Option) {
	t.Helper()
	ready := make(chan struct{}, 1)
	opts = append(opts, subscriber.WithGroup(group), subscriber.WithReady(func(string) { ready <- struct{}{} }),
		subscriber.WithDrainTimeout(5*time.Second))
	sub, err := subscriber.Open(context.Background(), target, opts...)
	if err != nil {
		t.Fatalf("subscriber.Open(%s): %v", target, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sub.Subscribe(ctx, topic, h) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitFor):
			t.Errorf("Subscribe(%q) did not return after cancel", topic)
		}
		_ = sub.Close()
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Subscribe(%q) returned before it was ready: %v", topic, err)
	case <-time.After(waitFor):
		t.Fatalf("Subscribe(%q) not ready after %v", topic, waitFor)
	}
}

// inbox collects messages and lets tests wait for them.
type inbox struct {
	mu     sync.Mutex
	msgs   []*herald.Message
	notify chan struct{}
}

func newInbox() *inbox { return &inbox{notify: make(chan struct{}, 1)} }

func (b *inbox) handler(_ context.Context, m *herald.Message) error {
	b.add(m)
	return nil
}

func (b *inbox) add(m *herald.Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

func (b *inbox) snapshot() []*herald.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*herald.Message(nil), b.msgs...)
}

// wait waits until cond holds on the messages received, checking after
// each one.
func (b *inbox) wait(t *testing.T, what string, cond func([]*herald.Message) bool) []*herald.Message {
	t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	for {
		if msgs := b.snapshot(); cond(msgs) {
			return msgs
		}
		select {
		case <-b.notify:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s (received %d)", waitFor, what, len(b.snapshot()))
		}
	}
}
