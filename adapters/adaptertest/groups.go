package adaptertest

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/subscriber"
)

// testGroups (Groups): two subscribers in one group share the messages (together
// they get each once; duplicates only from redelivery); a second group
// gets every message too.
func testGroups(t *testing.T, e *env) {
	require(t, e.caps.Groups, "Groups")
	const n = 40
	topic := e.topic("groups")
	shared, other := e.group("shared"), e.group("other")
	a, b, o := newCollector(), newCollector(), newCollector()
	for _, s := range []struct {
		group string
		c     *collector
	}{{shared, a}, {shared, b}, {other, o}} {
		ready, readyCh := readyOption()
		e.subscribe(e.subscriber(s.group, ready), readyCh, topic, s.c.handler)
	}
	ids := publishN(t, e.publisher(), topic, n, "grp")
	o.waitIDs(t, e.wait(), ids)
	waitAny(t, e.wait(), "every message to reach one member of the group", eitherHas(a, b, ids), a, b)
	// A group that copies instead of sharing shows once the slower
	// member catches up: watch for it a while.
	dup := 0
	watchAny(copyWatch, func() bool { dup = inBoth(a, b, ids); return dup > n/4 }, a, b)
	if dup > n/4 {
		t.Errorf("%d of %d messages reached both members of one group; a group must share messages, not copy them", dup, n)
	}
	t.Logf("group split: member A %d, member B %d, duplicates %d", a.distinct(), b.distinct(), dup)
}

// testNoGroup: subscribers without a group each get every message.
func testNoGroup(t *testing.T, e *env) {
	topic := e.topic("nogroup")
	a, b := newCollector(), newCollector()
	for _, c := range []*collector{a, b} {
		ready, readyCh := readyOption()
		e.subscribe(e.subscriber("", ready), readyCh, topic, c.handler)
	}
	ids := publishN(t, e.publisher(), topic, 10, "fan")
	a.waitIDs(t, e.wait(), ids)
	b.waitIDs(t, e.wait(), ids)
}

// testConcurrency: WithConcurrency(n) runs n handlers at once (they meet
// at a barrier: each of the first n waits until n are in flight), never
// more, and delivers each message to one worker.
func testConcurrency(t *testing.T, e *env) {
	const workers, n = 4, 40
	if m := e.caps.MaxWindow; m > 0 && m < workers {
		t.Skipf("the backend hands out at most %d messages at once (Capabilities.MaxWindow)", m)
	}
	topic := e.topic("conc")
	ready, readyCh := readyOption()
	// The window is not what limits it.
	sub := e.subscriber(e.group("conc"), ready, subscriber.WithConcurrency(workers), subscriber.WithWindow(2*workers))
	c := newCollector()
	var cur, maxSeen atomic.Int32
	allIn := make(chan struct{}) // closed when workers handlers are in flight at once
	var once, releaseOnce sync.Once
	gaveUp := make(chan struct{}) // closed when the wait for allIn ended without it
	release := func() { releaseOnce.Do(func() { close(gaveUp) }) }
	e.subscribe(sub, readyCh, topic, func(ctx context.Context, m *herald.Message) error {
		now := cur.Add(1)
		defer cur.Add(-1)
		for {
			if seen := maxSeen.Load(); now <= seen || maxSeen.CompareAndSwap(seen, now) {
				break
			}
		}
		if now >= workers {
			once.Do(func() { close(allIn) })
		}
		select { // hold the handler until workers are in flight
		case <-allIn:
		case <-gaveUp:
		case <-ctx.Done():
		}
		return c.handler(ctx, m)
	})
	t.Cleanup(release) // runs first: a failed test does not leave handlers held
	// Distinct keys spread the messages over partitions (Kafka hands out a
	// partition's records one at a time).
	pub := e.publisher()
	ids := make([]string, n)
	for i := range ids {
		m := herald.NewMessage([]byte("conc-" + strconv.Itoa(i)))
		herald.SetKey(m, "conc-key-"+strconv.Itoa(i))
		ids[i] = m.UUID
		if err := pub.Publish(context.Background(), topic, m); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
	}
	barrier := time.NewTimer(e.wait())
	defer barrier.Stop()
	select {
	case <-allIn:
	case <-barrier.C:
		release() // the held handlers go on now
		t.Errorf("never saw %d handlers in flight at once (at most %d) within %v: WithConcurrency(%d) did not run handlers in parallel",
			workers, maxSeen.Load(), e.wait(), workers)
	}
	c.waitIDs(t, e.wait(), ids)
	if got := maxSeen.Load(); got > workers {
		t.Errorf("saw %d handlers at once; WithConcurrency(%d) allows at most %d", got, workers, workers)
	}
	if d := c.deliveries(); d > n+n/4 {
		t.Errorf("%d deliveries for %d messages: concurrent workers must compete, not each get every message", d, n)
	}
}

// testOrderPerKey (OrderKey or OrderQueue): with concurrency 1, messages
// with one key are handled in publish order.
func testOrderPerKey(t *testing.T, e *env) {
	require(t, e.caps.Order != adapters.OrderNone, "an Order (OrderKey or OrderQueue)")
	const keys, each = 4, 25
	topic := e.topic("order")
	ready, readyCh := readyOption()
	c := newCollector()
	e.subscribe(e.subscriber(e.group("order"), ready), readyCh, topic, c.handler)
	pub := e.publisher()
	var ids []string
	for i := 0; i < each; i++ {
		for k := 0; k < keys; k++ {
			m := herald.NewMessage([]byte{byte(k), byte(i)})
			herald.SetKey(m, "key-"+string(rune('a'+k)))
			ids = append(ids, m.UUID)
			if err := pub.Publish(context.Background(), topic, m); err != nil {
				t.Fatalf("Publish: %v", err)
			}
		}
	}
	c.waitIDs(t, e.wait(), ids)
	last := map[byte]int{}
	seen := map[string]bool{}
	for _, r := range c.snapshot() {
		if seen[r.ID] {
			continue // a redelivery, not a reordering
		}
		seen[r.ID] = true
		k, i := r.Payload[0], int(r.Payload[1])
		if prev, ok := last[k]; ok && i < prev {
			t.Errorf("key %c: message %d arrived after message %d", 'a'+k, i, prev)
		}
		last[k] = i
	}
}
