package subscriber_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// Issue 14 item 1: key K, messages 0, 1, 2; 0 fails once. Handled order
// was 0(failed) 1 2 0 on mem and Kafka; with the redelivery held by the
// subscriber (RedeliverLocal), it is 0(failed) 0 1 2, at any concurrency.
func TestKeyOrderKeptAcrossNack(t *testing.T) {
	for _, conc := range []int{1, 4} {
		t.Run(fmt.Sprint("concurrency=", conc), func(t *testing.T) {
			ctx := context.Background()
			url := "mem://order-nack-" + fmt.Sprint(conc)
			ready := make(chan string, 1)
			sub, err := subscriber.Open(ctx, url, subscriber.WithGroup("g"), subscriber.WithConcurrency(conc),
				subscriber.WithReady(func(s string) { ready <- s }))
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			pub, err := publisher.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			var (
				mu     sync.Mutex
				order  []string
				failed bool
			)
			done := make(chan struct{})
			go sub.Subscribe(ctx, "t", func(_ context.Context, m *herald.Message) error {
				mu.Lock()
				defer mu.Unlock()
				n := string(m.Payload)
				if n == "0" && !failed {
					failed = true
					order = append(order, "0(failed)")
					return herald.RetryAfter(errors.New("once"), time.Millisecond)
				}
				order = append(order, n)
				if len(order) == 4 {
					close(done)
				}
				return nil
			})
			<-ready
			var msgs []*herald.Message
			for i := 0; i < 3; i++ {
				m := herald.NewMessage([]byte(fmt.Sprint(i)))
				herald.SetKey(m, "K")
				msgs = append(msgs, m)
			}
			if err := pub.Publish(ctx, "t", msgs...); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("not all handled")
			}
			mu.Lock()
			defer mu.Unlock()
			if got := strings.Join(order, " "); got != "0(failed) 0 1 2" {
				t.Fatalf("handled %s, want 0(failed) 0 1 2", got)
			}
		})
	}
}

// Attempt counts the subscriber's deliveries of a message on a backend
// that does not count them: 1, 2, 3.
func TestAttemptCountsLocalRedeliveries(t *testing.T) {
	ctx := context.Background()
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, "mem://attempts", subscriber.WithReady(func(s string) { ready <- s }))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := publisher.Open(ctx, "mem://attempts")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	got := make(chan int, 3)
	go sub.Subscribe(ctx, "t", func(ctx context.Context, m *herald.Message) error {
		d, _ := herald.DeliveryFromContext(ctx)
		got <- d.Attempt
		if d.Attempt < 3 {
			return herald.RetryAfter(errors.New("again"), time.Millisecond)
		}
		return nil
	})
	<-ready
	if err := pub.Publish(ctx, "t", herald.NewMessage(nil)); err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 3; want++ {
		if a := <-got; a != want {
			t.Fatalf("attempt %d, want %d", a, want)
		}
	}
}

// Issue 14 item 4: Close was unbounded on mem:// when a consumer was
// stuck (500 ms publish timeout, still blocked after 3 s). A publish
// waiting for a full queue now ends at its deadline, and Close with it.
func TestPublisherCloseBoundedWithStuckConsumer(t *testing.T) {
	ctx := context.Background()
	url := "mem://stuck?buffer=1"
	ready := make(chan string, 1)
	sub, err := subscriber.Open(ctx, url, subscriber.WithGroup("g"), subscriber.WithWindow(1),
		subscriber.WithDrainTimeout(100*time.Millisecond), subscriber.WithReady(func(s string) { ready <- s }))
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	go sub.Subscribe(ctx, "t", func(context.Context, *herald.Message) error { <-release; return nil })
	<-ready
	pub, err := publisher.Open(ctx, url, publisher.WithPublishTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	failed := make(chan error, 16)
	for i := 0; i < 8; i++ {
		if err := pub.PublishAsync(ctx, "t", herald.NewMessage(nil), func(_ *herald.Message, err error) { failed <- err }); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := pub.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Close took %v with a 500ms publish timeout", el)
	}
	unreachable := 0
	for i := 0; i < 8; i++ {
		if err := <-failed; errors.Is(err, herald.ErrUnreachable) {
			unreachable++
		}
	}
	if unreachable == 0 {
		t.Fatal("no publish failed although the consumer was stuck")
	}
	close(release)
	_ = sub.Close()
}
