package memory_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// A publish that one group's queue took and another's (full) did not is
// stored: its error must not be ErrUnreachable ("never written: safe to
// publish again", which duplicates it in the first group) but
// ErrOutcomeUnknown.
func TestPartialPublishIsNotUnreachable(t *testing.T) {
	ctx := context.Background()
	const u = "mem://attackpartial?buffer=1"
	pub, err := publisher.Open(ctx, u, publisher.WithPublishTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	// Which group Send tries first is random: try several topics.
	for i := range 8 {
		tp := fmt.Sprintf("t%d", i)
		// Group "full" exists (Prepare) and nobody consumes it: its
		// queue of one fills with the first message.
		idle, err := subscriber.Open(ctx, u, subscriber.WithGroup("full"))
		if err != nil {
			t.Fatal(err)
		}
		defer idle.Close()
		if err := idle.Prepare(ctx, tp); err != nil {
			t.Fatal(err)
		}
		ready := make(chan struct{})
		got := make(chan string, 10)
		live, err := subscriber.Open(ctx, u, subscriber.WithGroup("live"), subscriber.WithReady(func(string) { close(ready) }))
		if err != nil {
			t.Fatal(err)
		}
		defer live.Close()
		go live.Subscribe(ctx, tp, func(_ context.Context, m *herald.Message) error { got <- m.UUID; return nil })
		<-ready
		if err := pub.Publish(ctx, tp, herald.NewMessage([]byte("1"))); err != nil {
			t.Fatal(err)
		}
		second := herald.NewMessage([]byte("2"))
		err = pub.Publish(ctx, tp, second) // "full" is full now
		if err == nil {
			t.Fatalf("Publish = nil although group full could not take it")
		}
		timeout := time.After(time.Second)
		for received := 0; received < 2; {
			select {
			case id := <-got:
				received++
				if id == second.UUID && errors.Is(err, herald.ErrUnreachable) {
					t.Fatalf("Publish = %v (ErrUnreachable: never written, safe to publish again), but group live received the message", err)
				}
			case <-timeout:
				received = 2
			}
		}
	}
}
