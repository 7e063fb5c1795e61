package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

// delayTolerance is what the delay tests allow beyond the declared
// Capabilities.Delay.Precision for handing a due message to a handler
// (the subscriber's fetch, a loaded machine).
const delayTolerance = 2 * time.Second

// timedCollector records when each message reached a handler.
type timedCollector struct {
	mu    sync.Mutex
	at    map[string]time.Time
	order []string
	msgs  map[string]*herald.Message
	ch    chan struct{}
}

func newTimedCollector() *timedCollector {
	return &timedCollector{at: map[string]time.Time{}, msgs: map[string]*herald.Message{}, ch: make(chan struct{}, 1)}
}

func (c *timedCollector) handler(_ context.Context, m *herald.Message) error {
	now := time.Now()
	c.mu.Lock()
	if _, ok := c.at[m.UUID]; !ok {
		c.at[m.UUID] = now
		c.order = append(c.order, m.UUID)
		c.msgs[m.UUID] = m.Copy()
	}
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
	return nil
}

// waitFor waits until every id was received, or fails after d.
func (c *timedCollector) waitFor(t *testing.T, d time.Duration, ids ...string) {
	t.Helper()
	deadline := time.After(d)
	for {
		c.mu.Lock()
		missing := 0
		for _, id := range ids {
			if _, ok := c.at[id]; !ok {
				missing++
			}
		}
		c.mu.Unlock()
		if missing == 0 {
			return
		}
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("%d of %d delayed messages not received within %v", missing, len(ids), d)
		}
	}
}

func (c *timedCollector) received(id string) (time.Time, *herald.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at[id], c.msgs[id]
}

func (c *timedCollector) sequence() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.order...)
}

// delayFor is the delay the delay tests use: long enough that an
// immediate delivery is told apart, whatever the declared precision.
func delayFor(e *env) time.Duration {
	return max(2*time.Second, e.caps.Delay.Precision)
}

// testDelayNotBeforeNotMuchAfter (Capabilities.Delay.Max > 0): messages
// published with PublishAt and PublishAfter reach the handler not before
// their delivery time and no later than the declared precision (plus
// delayTolerance) after it, with their ID, payload, key and metadata; a
// message published at once meanwhile is not held behind them; a delay
// past the declared maximum is refused naming the backend.
func testDelayNotBeforeNotMuchAfter(t *testing.T, e *env) {
	require(t, e.caps.Delay.Max > 0, "Delay.Max > 0 (delayed delivery)")
	topic := e.topic("delay")
	ready, readyCh := readyOption()
	c := newTimedCollector()
	e.subscribe(e.subscriber(e.group("delay"), ready), readyCh, topic, c.handler)
	pub := e.publisher()
	d := delayFor(e)

	after := herald.NewMessage([]byte("after"))
	herald.SetKey(after, "k-after")
	after.Metadata.Set("case", "after")
	start := time.Now()
	if err := pub.PublishAfter(context.Background(), topic, d, after); err != nil {
		t.Fatalf("PublishAfter(%v): %v", d, err)
	}
	afterDue := start.Add(d)
	at := time.Now().Add(d + 500*time.Millisecond)
	atMsg := herald.NewMessage([]byte("at"))
	atMsg.Metadata.Set("case", "at")
	if err := pub.PublishAt(context.Background(), topic, at, atMsg); err != nil {
		t.Fatalf("PublishAt(+%v): %v", time.Until(at), err)
	}
	now := herald.NewMessage([]byte("now"))
	if err := pub.Publish(context.Background(), topic, now); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	c.waitFor(t, e.wait()+d, now.UUID)
	if got, _ := c.received(now.UUID); !got.Before(afterDue) {
		t.Errorf("the message published at once arrived %v after the delayed one's time: held behind it", got.Sub(afterDue))
	}
	c.waitFor(t, e.wait()+d+e.caps.Delay.Precision+delayTolerance, after.UUID, atMsg.UUID)
	_, nowGot := c.received(now.UUID)
	late := e.caps.Delay.Precision + delayTolerance
	for _, tc := range []struct {
		m   *herald.Message
		due time.Time
	}{{after, afterDue}, {atMsg, at}} {
		got, m := c.received(tc.m.UUID)
		switch {
		case got.Before(tc.due):
			t.Errorf("%s: delivered %v before its time", tc.m.Payload, tc.due.Sub(got))
		case got.After(tc.due.Add(late)):
			t.Errorf("%s: delivered %v after its time; the backend declares a precision of %v (tolerance %v)", tc.m.Payload, got.Sub(tc.due), e.caps.Delay.Precision, delayTolerance)
		default:
			t.Logf("%s: delivered %v after its time (precision %v)", tc.m.Payload, got.Sub(tc.due).Round(time.Millisecond), e.caps.Delay.Precision)
		}
		if string(m.Payload) != string(tc.m.Payload) || herald.Key(m) != herald.Key(tc.m) || m.Metadata.Get("case") != tc.m.Metadata.Get("case") {
			t.Errorf("delayed message arrived changed: payload %q key %q case %q; sent %q %q %q",
				m.Payload, herald.Key(m), m.Metadata.Get("case"), tc.m.Payload, herald.Key(tc.m), tc.m.Metadata.Get("case"))
		}
		// What the backend adds to a delayed message's metadata is what
		// it adds to any message: the delay's machinery does not leak.
		for k := range m.Metadata {
			if _, sent := tc.m.Metadata[k]; !sent {
				if _, usual := nowGot.Metadata[k]; !usual {
					t.Errorf("%s: the delivered message has metadata %q=%q, which neither the publisher nor an immediate delivery has", tc.m.Payload, k, m.Metadata[k])
				}
			}
		}
	}
	if e.caps.Delay.Max < time.Duration(math.MaxInt64)-time.Hour {
		err := pub.PublishAfter(context.Background(), topic, e.caps.Delay.Max+time.Hour, herald.NewMessage([]byte("too far")))
		checkDelayRefused(t, e, err, "a delay past the maximum")
	}
}

// testDelayOrder (Capabilities.Delay.Ordered): messages of one key
// published in order for one delivery time are handled in that order.
func testDelayOrder(t *testing.T, e *env) {
	require(t, e.caps.Delay.Max > 0, "Delay.Max > 0 (delayed delivery)")
	require(t, e.caps.Delay.Ordered, "Delay.Ordered")
	const n = 20
	topic := e.topic("delayorder")
	ready, readyCh := readyOption()
	c := newTimedCollector()
	e.subscribe(e.subscriber(e.group("delayorder"), ready), readyCh, topic, c.handler)
	pub := e.publisher()
	at := time.Now().Add(delayFor(e))
	ids := make([]string, n)
	for i := range ids {
		m := herald.NewMessage([]byte(fmt.Sprint(i)))
		herald.SetKey(m, "one-key")
		ids[i] = m.UUID
		if err := pub.PublishAt(context.Background(), topic, at, m); err != nil {
			t.Fatalf("PublishAt %d: %v", i, err)
		}
	}
	c.waitFor(t, e.wait()+time.Until(at)+e.caps.Delay.Precision+delayTolerance, ids...)
	got := c.sequence()
	for i := range ids {
		if got[i] != ids[i] {
			t.Fatalf("message %d of %d for one delivery time handled out of publish order: got %v, want %v", i, n, got, ids)
		}
	}
	if first, _ := c.received(ids[0]); first.Before(at) {
		t.Errorf("delivered %v before its time", at.Sub(first))
	}
}

// testDelayRefused (Capabilities.Delay.Max == 0): PublishAt and
// PublishAfter are refused with a *herald.Error naming the backend, and
// the message is not sent at once instead.
func testDelayRefused(t *testing.T, e *env) {
	if e.caps.Delay.Max > 0 {
		t.Skipf("the driver declares delayed delivery (Delay.Max %v): nothing to refuse but a delay past it (DelayNotBeforeNotMuchAfter)", e.caps.Delay.Max)
	}
	topic := e.topic("delayrefused")
	ready, readyCh := readyOption()
	c := newTimedCollector()
	e.subscribe(e.subscriber(e.group("delayrefused"), ready), readyCh, topic, c.handler)
	pub := e.publisher()
	refused := herald.NewMessage([]byte("refused"))
	checkDelayRefused(t, e, pub.PublishAfter(context.Background(), topic, time.Second, refused), "PublishAfter")
	checkDelayRefused(t, e, pub.PublishAt(context.Background(), topic, time.Now().Add(time.Minute), refused), "PublishAt")
	marker := herald.NewMessage([]byte("marker"))
	if err := pub.Publish(context.Background(), topic, marker); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	c.waitFor(t, e.wait(), marker.UUID)
	if at, _ := c.received(refused.UUID); !at.IsZero() {
		t.Errorf("the refused delayed message was delivered")
	}
}

// checkDelayRefused checks err is the facade's refusal of a delay: a
// *herald.Error of KindInvalid naming the backend and its maximum.
func checkDelayRefused(t *testing.T, e *env, err error, what string) {
	t.Helper()
	var he *herald.Error
	switch {
	case err == nil:
		t.Errorf("%s: nil error; want a refusal", what)
	case !errors.As(err, &he):
		t.Errorf("%s: %v (%T); want a *herald.Error", what, err, err)
	case he.Kind != herald.KindInvalid || he.Backend != e.cfg.Scheme:
		t.Errorf("%s: kind %v backend %q; want %v and %q (%v)", what, he.Kind, he.Backend, herald.KindInvalid, e.cfg.Scheme, err)
	case !strings.Contains(err.Error(), "maximum delay"):
		t.Errorf("%s: %q does not name the maximum delay", what, err)
	}
}

// testDelayRestart (Capabilities.Delay.Durable, Suite.Restart): a
// delayed message whose publish returned nil survives a broker restart
// before its time and is delivered afterwards, not before its time.
func testDelayRestart(t *testing.T, e *env) {
	require(t, e.caps.Delay.Max > 0 && e.caps.Delay.Durable, "durable delayed delivery (Delay.Durable)")
	topic := e.topic("delayrestart")
	group := e.group("delayrestart")
	ready, readyCh := readyOption()
	c := newTimedCollector()
	e.subscribe(e.subscriber(group, ready), readyCh, topic, c.handler)
	pub := e.publisher()
	m := herald.NewMessage([]byte("survives"))
	at := time.Now().Add(delayFor(e) + time.Second)
	if err := pub.PublishAt(context.Background(), topic, at, m); err != nil {
		t.Fatalf("PublishAt: %v", err)
	}
	e.suite.Restart(t)
	if got, _ := c.received(m.UUID); !got.IsZero() {
		t.Fatalf("delivered before the restart ended, %v before its time (the restart should come first)", at.Sub(got))
	}
	c.waitFor(t, 3*e.wait(), m.UUID)
	if got, _ := c.received(m.UUID); got.Before(at) {
		t.Errorf("delivered %v before its time", at.Sub(got))
	} else {
		t.Logf("delivered %v after its time, across a broker restart", got.Sub(at).Round(time.Millisecond))
	}
}
