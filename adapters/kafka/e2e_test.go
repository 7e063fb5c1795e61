package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/publisher"
	"github.com/heraldkit/herald/subscriber"
)

// These tests go through the facade (publisher.Open, subscriber.Open) to
// the driver: what users run.

// TestEndToEndKeyOrderAcrossNack (issue 14, item 1, on the real driver):
// a record whose handler fails is handled again, by the facade, before
// the later records of its key (Kafka: RedeliverLocal, OrderKey), while
// other keys go on; every record is committed once handled, so the group
// gets nothing again.
func TestEndToEndKeyOrderAcrossNack(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic, group := uniqueName("e2eorder"), uniqueName("g")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub, err := publisher.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	const n = 5
	var msgs []*herald.Message
	for _, key := range []string{"K", "L"} {
		for i := range n {
			m := herald.NewMessage([]byte(fmt.Sprintf("%s%d", key, i)))
			herald.SetKey(m, key)
			msgs = append(msgs, m)
		}
	}
	if err := pub.Publish(ctx, topic, msgs...); err != nil {
		t.Fatal(err)
	}

	sub, err := subscriber.Open(ctx, withQuery(target, "group="+group), subscriber.WithConcurrency(4))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	handled := map[string][]string{}
	failed := false
	all := make(chan struct{})
	count := 0
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- sub.Subscribe(sctx, topic, func(_ context.Context, m *herald.Message) error {
			mu.Lock()
			defer mu.Unlock()
			p := string(m.Payload)
			key := herald.Key(m)
			if p == "K0" && !failed {
				failed = true
				handled[key] = append(handled[key], p+"(failed)")
				return errors.New("first attempt fails")
			}
			handled[key] = append(handled[key], p)
			if count++; count == 2*n {
				close(all)
			}
			return nil
		})
	}()
	select {
	case <-all:
	case <-ctx.Done():
		t.Fatalf("handled %v", handled)
	}
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Subscribe: %v", err)
	}
	if err := sub.Close(); err != nil {
		t.Error(err)
	}
	mu.Lock()
	if got, want := fmt.Sprint(handled["K"]), "[K0(failed) K0 K1 K2 K3 K4]"; got != want {
		t.Errorf("key K handled %s; want %s (the failed record again before the later ones)", got, want)
	}
	if got, want := fmt.Sprint(handled["L"]), "[L0 L1 L2 L3 L4]"; got != want {
		t.Errorf("key L handled %s; want %s", got, want)
	}
	mu.Unlock()
	var total int64
	for _, o := range committed(t, target, group, topic) {
		total += o.At
	}
	if total != 2*n {
		t.Errorf("the group committed %d records in all; want %d", total, 2*n)
	}
}

// TestEndToEndPublishAsync: PublishAsync through the facade calls every
// done once with nil, Flush returns after them, and a subscriber gets
// every message.
func TestEndToEndPublishAsync(t *testing.T) {
	t.Parallel()
	target := brokerURL(t)
	topic := uniqueName("e2easync")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub, err := publisher.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	const n = 2000
	var mu sync.Mutex
	answered := map[string]int{}
	for i := range n {
		m := herald.NewMessage([]byte(fmt.Sprint(i)))
		herald.SetKey(m, fmt.Sprint(i%13))
		if err := pub.PublishAsync(ctx, topic, m, func(m *herald.Message, err error) {
			if err != nil {
				t.Errorf("done: %v", err)
			}
			mu.Lock()
			answered[m.UUID]++
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(answered) != n {
		t.Errorf("%d of %d dones before Flush returned", len(answered), n)
	}
	for id, c := range answered {
		if c != 1 {
			t.Errorf("done of %s called %d times", id, c)
		}
	}
	mu.Unlock()

	sub, err := subscriber.Open(ctx, withQuery(target, "group="+uniqueName("g")))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := make(chan string, n)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		_ = sub.Subscribe(sctx, topic, func(_ context.Context, m *herald.Message) error {
			got <- m.UUID
			return nil
		})
	}()
	seen := map[string]bool{}
	for len(seen) < n {
		select {
		case id := <-got:
			if answered[id] != 1 {
				t.Fatalf("received %s, which was not published", id)
			}
			seen[id] = true
		case <-ctx.Done():
			t.Fatalf("received %d of %d", len(seen), n)
		}
	}
}
