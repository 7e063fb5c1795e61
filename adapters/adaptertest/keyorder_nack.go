package adaptertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/subscriber"
)

// testOrderPerKeyAcrossNack: key K, messages 0, 1, 2 published in order;
// the first handling of 0 fails. With concurrency 1 and 4:
//
//   - RedeliverLocal (OrderKey or OrderQueue): the subscriber handles 0
//     again before later messages of its key, so the handled order is
//     exactly 0 (failed), 0, 1, 2 (issue 14, defect 1: it was
//     0 (failed), 1, 2, 0 on Kafka and mem);
//   - RedeliverBroker: the broker delivers 0 again, possibly after 1 and
//     2 (adapters.RedeliverBroker): every message is handled, 0 first
//     (where an Order is declared) and again after its failure; the order
//     seen is logged for the docs.
func testOrderPerKeyAcrossNack(t *testing.T, e *env) {
	if e.caps.Redelivery == adapters.RedeliverLocal {
		require(t, e.caps.Order != adapters.OrderNone, "an Order (OrderKey or OrderQueue) with RedeliverLocal")
	}
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("concurrency%d", workers), func(t *testing.T) {
			t.Parallel()
			orderAcrossNack(t, e.in(t), workers)
		})
	}
}

func orderAcrossNack(t *testing.T, e *env, workers int) {
	topic := e.topic("nackorder")
	ready, readyCh := readyOption()
	sub := e.subscriber(e.group("nackorder"), ready, subscriber.WithConcurrency(workers))
	var (
		mu      sync.Mutex
		handled []string // "0 failed", "0", "1", "2" in the order handled
		ok      = map[string]bool{}
		all     = make(chan struct{})
	)
	e.subscribe(sub, readyCh, topic, func(_ context.Context, m *herald.Message) error {
		i := string(m.Payload)
		mu.Lock()
		defer mu.Unlock()
		if i == "0" && !slices.Contains(handled, "0 failed") {
			handled = append(handled, "0 failed")
			return errTest
		}
		handled = append(handled, i)
		if !ok[i] {
			ok[i] = true
			if len(ok) == 3 {
				close(all)
			}
		}
		return nil
	})
	pub := e.publisher()
	for i := 0; i < 3; i++ {
		m := herald.NewMessage([]byte(fmt.Sprint(i)))
		herald.SetKey(m, "K")
		if err := pub.Publish(context.Background(), topic, m); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	select {
	case <-all:
	case <-time.After(e.wait()):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("not every message handled within %v; handled: %s", e.wait(), strings.Join(handled, ", "))
	}
	mu.Lock()
	got := slices.Clone(handled)
	mu.Unlock()
	if e.caps.Redelivery == adapters.RedeliverLocal {
		if want := []string{"0 failed", "0", "1", "2"}; !slices.Equal(got, want) {
			t.Errorf("handled %s; want %s (RedeliverLocal: a failed message is handled again before later messages of its key)",
				strings.Join(got, ", "), strings.Join(want, ", "))
		}
		return
	}
	if e.caps.Order != adapters.OrderNone && got[0] != "0 failed" {
		t.Errorf("handled %s; want message 0 first (%s)", strings.Join(got, ", "), orderName(e.caps.Order))
	}
	if !slices.Contains(got, "0") {
		t.Errorf("handled %s; want message 0 handled again after its failure", strings.Join(got, ", "))
	}
	t.Logf("RedeliverBroker, %s, concurrency %d: handled %s", orderName(e.caps.Order), workers, strings.Join(got, ", "))
}
