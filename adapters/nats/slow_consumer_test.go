package nats_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// On core NATS a burst beyond nats.go's pending limits (64 MiB for a
// subscription) makes the client drop what does not fit (at most once)
// and report ErrSlowConsumer once from the next NextMsg. That is not a
// broken stream: the connection and the subscription are fine, and what
// the client holds must still be delivered. Treating it as a break makes
// the subscriber close the stream and open another, which throws away
// every message the client held (tens of MiB) and the deliveries already
// handed to the workers (no longer Valid), reports the subscription lost
// and logs an outage.
func TestCoreSlowConsumerIsNotABreak(t *testing.T) {
	ps := newPrivateServer(t, serverOptions())
	u := withQuery(ps.URL(), "mode=core")
	tp := topic(t)
	ctx := context.Background()

	var lost atomic.Int32
	ready := make(chan struct{})
	sub, err := subscriber.Open(ctx, u, subscriber.WithWindow(4),
		subscriber.WithReady(func(string) { close(ready) }),
		subscriber.WithErrorHook(func(err error) {
			if errors.Is(err, herald.ErrSubscriptionLost) {
				lost.Add(1)
				t.Logf("error hook: %v", err)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	release := make(chan struct{})
	var got atomic.Int32
	var once sync.Once
	subDone := make(chan error, 1)
	go func() {
		subDone <- sub.Subscribe(ctx, tp, func(ctx context.Context, m *herald.Message) error {
			once.Do(func() { <-release }) // the first handler waits for the burst
			got.Add(1)
			return nil
		})
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("subscription not ready")
	}

	pub, err := publisher.Open(ctx, ps.URL()+"?mode=core")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	const n, size = 100, 900 << 10 // 90 MiB: beyond the 64 MiB pending limit
	payload := make([]byte, size)
	for i := 0; i < n; i++ {
		if err := pub.Publish(ctx, tp, herald.NewMessage(payload)); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	// The client held about 64 MiB (~70 messages): all of them must come.
	deadline := time.After(20 * time.Second)
	for got.Load() < 60 {
		select {
		case <-deadline:
			t.Fatalf("handled %d of %d messages (the client held ~70); subscription lost reported %d times", got.Load(), n, lost.Load())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if lost.Load() != 0 {
		t.Errorf("a slow consumer was reported as a lost subscription %d times", lost.Load())
	}
	if err := sub.Health(); err != nil {
		t.Errorf("Health = %v, want nil", err)
	}
}
