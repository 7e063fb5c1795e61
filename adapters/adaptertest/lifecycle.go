package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/subscriber"
)

// testCloseDuringProcessing: closing a subscriber while handlers run lets
// them finish and acks their messages; nothing published is lost (with
// Durable and Groups, the group's next subscriber gets the rest, and not
// what was acked).
func testCloseDuringProcessing(t *testing.T, e *env) {
	const n = 30
	topic, group := e.topic("drain"), e.group("drain")
	pub := e.publisher()
	ready, readyCh := readyOption()
	first := e.subscriber(group, ready, subscriber.WithConcurrency(3))
	c := newCollector()
	var mu sync.Mutex
	started, finished := 0, 0
	release := make(chan struct{})
	inHandler := make(chan struct{}, n)
	e.subscribe(first, readyCh, topic, func(ctx context.Context, m *herald.Message) error {
		mu.Lock()
		started++
		mu.Unlock()
		inHandler <- struct{}{}
		<-release // held until Close has begun
		mu.Lock()
		finished++
		mu.Unlock()
		return c.handler(ctx, m)
	})
	ids := publishN(t, pub, topic, n, "drain")
	select {
	case <-inHandler:
	case <-time.After(e.wait()):
		t.Fatal("no handler started")
	}
	// Close must wait for the handlers: what had started when it returned
	// must have finished by then (counted at that moment, not later).
	type outcome struct {
		err               error
		started, finished int
	}
	closed := make(chan outcome, 1)
	go func() {
		err := first.Close()
		mu.Lock()
		defer mu.Unlock()
		closed <- outcome{err, started, finished}
	}()
	// Give a Close that does not wait the time to return early.
	select {
	case o := <-closed:
		t.Fatalf("Close returned (%v) while a handler was still running (%d started, %d finished)", o.err, o.started, o.finished)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case o := <-closed:
		if o.err != nil {
			t.Fatalf("Close: %v", o.err)
		}
		if o.started != o.finished {
			t.Errorf("%d handlers started but only %d finished when Close returned", o.started, o.finished)
		}
	case <-time.After(e.wait()):
		t.Fatal("Close did not return after handlers finished")
	}
	if !e.caps.Durable || !e.caps.Groups {
		return
	}
	// The group's next subscriber gets the rest, and not what the first
	// one acked before its clean Close.
	ready2, readyCh2 := readyOption()
	next := newCollector()
	e.subscribe(e.subscriber(group, ready2), readyCh2, topic, next.handler)
	var rest []string
	for _, id := range ids {
		if !c.has(id) {
			rest = append(rest, id)
		}
	}
	next.waitIDs(t, e.wait(), rest)
	for _, id := range ids {
		if c.has(id) && next.has(id) {
			t.Errorf("message %s was acked before Close yet delivered again to the next subscriber", id)
		}
	}
}

// testCancelEndsSubscribe: cancelling ctx makes Subscribe return nil
// promptly, and the subscriber can subscribe again.
func testCancelEndsSubscribe(t *testing.T, e *env) {
	topic := e.topic("cancel")
	ready, readyCh := readyOption()
	sub := e.subscriber(e.group("cancel"), ready)
	c := newCollector()
	r := e.subscribe(sub, readyCh, topic, c.handler)
	ids := publishN(t, e.publisher(), topic, 2, "cancel")
	c.waitIDs(t, e.wait(), ids)
	r.stop(t)
	// The same subscriber serves a new Subscribe call.
	r2 := e.subscribe(sub, readyCh, topic, c.handler)
	ids = publishN(t, e.publisher(), topic, 2, "again")
	c.waitIDs(t, e.wait(), ids)
	r2.stop(t)
}

// testAfterClose: Publish and Subscribe after Close return an error
// wrapping herald.ErrClosed that names the topic; Close is idempotent.
func testAfterClose(t *testing.T, e *env) {
	pub := e.publisher()
	sub := e.subscriber(e.group("closed"))
	for i := 0; i < 2; i++ {
		if err := pub.Close(); err != nil {
			t.Fatalf("publisher Close #%d: %v", i+1, err)
		}
		if err := sub.Close(); err != nil {
			t.Fatalf("subscriber Close #%d: %v", i+1, err)
		}
	}
	topic := e.topic("closed")
	err := pub.Publish(context.Background(), topic, herald.NewMessage([]byte("x")))
	checkClosed(t, "Publish after Close", err, topic)
	err = sub.Subscribe(context.Background(), topic, func(context.Context, *herald.Message) error { return nil })
	checkClosed(t, "Subscribe after Close", err, topic)
}

// checkClosed fails t unless err wraps herald.ErrClosed and names topic.
func checkClosed(t *testing.T, what string, err error, topic string) {
	t.Helper()
	if !errors.Is(err, herald.ErrClosed) || !strings.Contains(fmt.Sprint(err), topic) {
		t.Errorf("%s = %v; want an error wrapping herald.ErrClosed that names the topic %q", what, err, topic)
	}
}
