package embedded_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// Handlers see JetStream's own delivery count as herald.Delivery.Attempt.
func TestDeliveryAttemptFromBackend(t *testing.T) {
	target := target(t.TempDir(), "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, target, subscriber.WithGroup("g"), subscriber.WithReady(func(s string) { ready <- s }))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := publisher.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	attempts := make(chan int, 3)
	subCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- sub.Subscribe(subCtx, "attempts", func(ctx context.Context, m *herald.Message) error {
			d, _ := herald.DeliveryFromContext(ctx)
			attempts <- d.Attempt
			if d.Attempt < 3 {
				return errors.New("not yet")
			}
			return nil
		})
	}()
	<-ready
	if err := pub.Publish(ctx, "attempts", herald.NewMessage([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 3; want++ {
		select {
		case got := <-attempts:
			if got != want {
				t.Fatalf("delivery %d: Attempt = %d", want, got)
			}
		case <-ctx.Done():
			t.Fatalf("no delivery %d", want)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
