package adaptertest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/subscriber"
)

// testHandlerErrorRedelivers: a handler error nacks the message and it is
// handled again (redelivered by the broker, or held and handed again by
// the subscriber: every backend); other messages are not lost meanwhile.
func testHandlerErrorRedelivers(t *testing.T, e *env) {
	topic := e.topic("nack")
	ready, readyCh := readyOption()
	sub := e.subscriber(e.group("nack"), ready)
	c := newCollector()
	var failed sync.Map // ID -> failures so far
	e.subscribe(sub, readyCh, topic, func(ctx context.Context, m *herald.Message) error {
		n, _ := failed.LoadOrStore(m.UUID, new(atomic.Int32))
		if n.(*atomic.Int32).Add(1) <= 2 {
			return errTest
		}
		return c.handler(ctx, m)
	})
	ids := publishN(t, e.publisher(), topic, 5, "nack")
	c.waitIDs(t, e.wait(), ids)
	for _, id := range ids {
		n, _ := failed.Load(id)
		if got := n.(*atomic.Int32).Load(); got < 3 {
			t.Errorf("message %s handled %d times; want 3 (two failures, then success)", id, got)
		}
	}
}

// testPanicIsAnError: a panicking handler does not stop the subscriber; the
// message is handled again and later messages keep flowing.
func testPanicIsAnError(t *testing.T, e *env) {
	topic := e.topic("panic")
	ready, readyCh := readyOption()
	sub := e.subscriber(e.group("panic"), ready)
	c := newCollector()
	var panicked atomic.Bool
	e.subscribe(sub, readyCh, topic, func(ctx context.Context, m *herald.Message) error {
		if string(m.Payload) == "boom-0" && panicked.CompareAndSwap(false, true) {
			panic("deliberate panic in handler")
		}
		return c.handler(ctx, m)
	})
	ids := publishN(t, e.publisher(), topic, 3, "boom")
	c.waitIDs(t, e.wait(), ids)
	if !panicked.Load() {
		t.Fatal("the handler never panicked")
	}
}

// testUnackedGoToNextSubscriber (Durable and Groups): a message a subscriber received but did not
// ack when it closed, and messages published while no subscriber ran, are
// delivered to the group's next subscriber.
func testUnackedGoToNextSubscriber(t *testing.T, e *env) {
	require(t, e.caps.Durable && e.caps.Groups, "Durable and Groups")
	topic, group := e.topic("durable"), e.group("durable")
	pub := e.publisher()

	// First subscriber: takes the first message and never finishes it.
	ready, readyCh := readyOption()
	first := e.subscriber(group, ready, subscriber.WithDrainTimeout(200*time.Millisecond))
	started := make(chan string, 16)
	r := e.subscribe(first, readyCh, topic, func(ctx context.Context, m *herald.Message) error {
		started <- m.UUID
		<-ctx.Done() // cancelled when the drain timeout expires
		return ctx.Err()
	})
	ids := publishN(t, pub, topic, 1, "stuck")
	select {
	case id := <-started:
		if id != ids[0] {
			t.Fatalf("first subscriber got %s, want %s", id, ids[0])
		}
	case <-time.After(e.wait()):
		t.Fatal("first subscriber never received the message")
	}
	r.stop(t)
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Published while the group has no running subscriber.
	ids = append(ids, publishN(t, pub, topic, 3, "offline")...)

	ready2, readyCh2 := readyOption()
	second := e.subscriber(group, ready2)
	c := newCollector()
	e.subscribe(second, readyCh2, topic, c.handler)
	c.waitIDs(t, e.wait(), ids)
}

// testPreparedGroupKeepsEarlyMessages (Durable and Groups): after Subscriber.Prepare, messages
// published before the group's first Subscribe are delivered to it.
func testPreparedGroupKeepsEarlyMessages(t *testing.T, e *env) {
	require(t, e.caps.Durable && e.caps.Groups, "Durable and Groups")
	topic, group := e.topic("prepare"), e.group("prepare")
	ready, readyCh := readyOption()
	sub := e.subscriber(group, ready)
	if err := sub.Prepare(context.Background(), topic); err != nil {
		t.Fatalf("Prepare(%q): %v", topic, err)
	}
	ids := publishN(t, e.publisher(), topic, 5, "early")
	c := newCollector()
	e.subscribe(sub, readyCh, topic, c.handler)
	c.waitIDs(t, e.wait(), ids)
}
