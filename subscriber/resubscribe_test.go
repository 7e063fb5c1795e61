package subscriber_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/subscriber"
)

// flaky is a Watermill subscriber whose subscriptions each deliver one
// message and then end, as an adapter does when it gives up on a
// connection.
type flaky struct{ calls atomic.Int32 }

func (f *flaky) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	n := f.calls.Add(1)
	ch := make(chan *message.Message)
	go func() {
		defer close(ch)
		m := herald.NewMessage([]byte{byte(n)})
		select {
		case ch <- m:
		case <-ctx.Done():
			return
		}
		select {
		case <-m.Acked():
		case <-m.Nacked():
		case <-ctx.Done():
		}
	}()
	return ch, nil
}

func (f *flaky) Close() error { return nil }

type flakyAdapter struct{ sub *flaky }

func (a flakyAdapter) Publisher(context.Context, herald.Config) (message.Publisher, error) {
	return nil, herald.ErrClosed
}
func (a flakyAdapter) Subscriber(context.Context, herald.Config) (message.Subscriber, error) {
	return a.sub, nil
}

var flakySub = &flaky{}

func init() { adapters.Register("flaky-test", flakyAdapter{flakySub}) }

func TestSubscriptionEndingIsReplaced(t *testing.T) {
	flakySub.calls.Store(0) // the adapter is registered once per process
	sub, err := subscriber.Open(context.Background(), "flaky-test://")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := make(chan byte, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- sub.Subscribe(ctx, "t", func(_ context.Context, m *herald.Message) error {
			got <- m.Payload[0]
			return nil
		})
	}()
	for want := byte(1); want <= 3; want++ {
		select {
		case b := <-got:
			if b != want {
				t.Fatalf("got message from subscription %d, want %d", b, want)
			}
		case err := <-done:
			t.Fatalf("Subscribe returned %v when a subscription ended", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("no message from subscription %d", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Subscribe = %v after cancel; want nil", err)
	}
}
