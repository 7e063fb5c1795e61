package subscriber_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// The hand-off from the reader to the workers is buffered: deliveries the
// reader put down that no worker started when the subscription stops stay
// unsettled, so the group's next subscription gets every one of them (at
// least once: none is lost, none counted as handled without its handler).
// The first subscription's handler holds the first message until the
// drain timeout cancels its context (so the run is stopping, and the
// worker starts nothing more): it handles exactly that one.
func TestStopLeavesBufferedDeliveriesToTheGroup(t *testing.T) {
	ctx := context.Background()
	const url, n = "mem://handoff-stop", 40
	pub, err := publisher.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	var mu sync.Mutex
	handled := map[string]int{}
	record := func(m *herald.Message) {
		mu.Lock()
		handled[string(m.Payload)]++
		mu.Unlock()
	}

	ready := make(chan string, 1)
	first, err := subscriber.Open(ctx, url, subscriber.WithGroup("g"), subscriber.WithConcurrency(1),
		subscriber.WithDrainTimeout(50*time.Millisecond), subscriber.WithReady(func(s string) { ready <- s }))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	started := make(chan struct{})
	var once sync.Once
	ctx1, stop1 := context.WithCancel(ctx)
	done1 := make(chan error, 1)
	go func() {
		done1 <- first.Subscribe(ctx1, "t", func(hctx context.Context, m *herald.Message) error {
			once.Do(func() { close(started); <-hctx.Done() })
			record(m)
			return nil
		})
	}()
	<-ready
	msgs := make([]*herald.Message, n)
	for i := range msgs {
		msgs[i] = herald.NewMessage([]byte(fmt.Sprint(i)))
	}
	if err := pub.Publish(ctx, "t", msgs...); err != nil {
		t.Fatal(err)
	}
	<-started // the others wait in the stream or in the hand-off
	stop1()
	if err := <-done1; err != nil {
		t.Fatalf("first Subscribe: %v", err)
	}
	mu.Lock()
	byFirst := len(handled)
	mu.Unlock()
	if byFirst != 1 {
		t.Fatalf("the first subscription handled %d messages, want 1 (it was stopping)", byFirst)
	}

	second, err := subscriber.Open(ctx, url, subscriber.WithGroup("g"), subscriber.WithReady(func(s string) { ready <- s }))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	all := make(chan struct{})
	var allOnce sync.Once
	ctx2, stop2 := context.WithCancel(ctx)
	defer stop2()
	go func() {
		_ = second.Subscribe(ctx2, "t", func(_ context.Context, m *herald.Message) error {
			record(m)
			mu.Lock()
			if len(handled) == n {
				allOnce.Do(func() { close(all) })
			}
			mu.Unlock()
			return nil
		})
	}()
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("handled %d of %d distinct messages (%d by the first subscription)", len(handled), n, byFirst)
	}
	mu.Lock()
	defer mu.Unlock()
	for k, c := range handled {
		if c != 1 {
			t.Errorf("message %s handled %d times, want once (the first subscription acked it)", k, c)
		}
	}
}
