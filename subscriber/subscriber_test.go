package subscriber_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	_ "github.com/heraldkit/herald/adapters/memory"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opt  subscriber.Option
		want string
	}{
		{subscriber.WithConcurrency(0), `key "concurrency": value "0": is out of range (allowed: 1 to 4096)`},
		{subscriber.WithGroup(""), `key "group": is empty`},
		{subscriber.WithDrainTimeout(-time.Second), `key "drain timeout": value "-1s": must be positive`},
		{subscriber.WithMiddleware(nil), "middleware is nil"},
	} {
		_, err := subscriber.Open(context.Background(), "mem://opts", tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open = %v; want an error containing %q", err, tc.want)
		}
	}
}

// A handler that ignores cancellation cannot hold Close beyond the drain
// timeout; its message stays unacked.
func TestDrainTimeoutBoundsClose(t *testing.T) {
	ctx := context.Background()
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, "mem://drain", subscriber.WithDrainTimeout(50*time.Millisecond),
		subscriber.WithReady(func(s string) { ready <- s }))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := publisher.Open(ctx, "mem://drain")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	cancelled := make(chan struct{})
	go sub.Subscribe(ctx, "t", func(ctx context.Context, m *herald.Message) error {
		close(started)
		<-ctx.Done()
		close(cancelled)
		<-release // ignores cancellation
		return nil
	})
	<-ready
	if err := pub.Publish(ctx, "t", herald.NewMessage(nil)); err != nil {
		t.Fatal(err)
	}
	<-started
	closed := make(chan error, 1)
	go func() { closed <- sub.Close() }()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's ctx was not cancelled after the drain timeout")
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked on a handler that ignores cancellation")
	}
}

func TestSubscribeArguments(t *testing.T) {
	sub, err := subscriber.Open(context.Background(), "mem://args")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Subscribe(context.Background(), "", func(context.Context, *herald.Message) error { return nil }); err == nil || !strings.Contains(err.Error(), "topic is empty") {
		t.Errorf("empty topic: %v", err)
	}
	if err := sub.Subscribe(context.Background(), "t", nil); err == nil || !strings.Contains(err.Error(), "handler is nil") {
		t.Errorf("nil handler: %v", err)
	}
}

func TestPublishHonoursContext(t *testing.T) {
	pub, err := publisher.Open(context.Background(), "mem://ctx")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pub.Publish(ctx, "t", herald.NewMessage(nil)); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a cancelled ctx = %v; want context.Canceled", err)
	}
	if err := pub.Publish(context.Background(), "t", nil); err == nil {
		t.Error("Publish(nil message) = nil; want an error")
	}
}
