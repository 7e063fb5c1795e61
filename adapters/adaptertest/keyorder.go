package adaptertest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/subscriber"
)

// testOrderPerKeyConcurrent (OrderKey or OrderQueue): a subscriber with
// concurrency 8 handles each key's messages in publish order, one at a
// time, while different keys run in parallel.
func testOrderPerKeyConcurrent(t *testing.T, e *env) {
	require(t, e.caps.Order != adapters.OrderNone, "an Order (OrderKey or OrderQueue)")
	const keys, each, workers = 8, 20, 8
	topic := e.topic("korder")
	ready, readyCh := readyOption()
	sub := e.subscriber(e.group("korder"), ready, subscriber.WithConcurrency(workers))
	var (
		mu      sync.Mutex
		last    = map[string]int{}
		seen    = map[string]bool{}
		handled atomic.Int32
		running sync.Map // key -> *atomic.Int32
		all     = make(chan struct{})
	)
	e.subscribe(sub, readyCh, topic, func(_ context.Context, m *herald.Message) error {
		k := herald.Key(m)
		c, _ := running.LoadOrStore(k, new(atomic.Int32))
		if c.(*atomic.Int32).Add(1) > 1 {
			t.Errorf("key %s: two handlers at once", k)
		}
		defer c.(*atomic.Int32).Add(-1)
		var i int
		fmt.Sscan(string(m.Payload), &i)
		mu.Lock()
		defer mu.Unlock()
		if seen[m.UUID] {
			return nil // a redelivery, not a reordering
		}
		seen[m.UUID] = true
		if prev, ok := last[k]; ok && i != prev+1 {
			t.Errorf("key %s: message %d handled after message %d", k, i, prev)
		}
		last[k] = i
		if handled.Add(1) == keys*each {
			close(all)
		}
		return nil
	})
	pub := e.publisher()
	for i := 0; i < each; i++ {
		msgs := make([]*herald.Message, keys)
		for k := range msgs {
			msgs[k] = herald.NewMessage([]byte(fmt.Sprint(i)))
			herald.SetKey(msgs[k], fmt.Sprintf("key-%d", k))
		}
		if i == 0 {
			mu.Lock()
			for k := range msgs {
				last[herald.Key(msgs[k])] = -1
			}
			mu.Unlock()
		}
		if err := pub.Publish(context.Background(), topic, msgs...); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	select {
	case <-all:
	case <-time.After(e.wait()):
		t.Fatalf("%d of %d messages handled within %v", handled.Load(), keys*each, e.wait())
	}
}
