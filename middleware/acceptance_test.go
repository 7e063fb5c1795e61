package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/middleware"
	"github.com/heraldkit/herald/subscriber"
)

// stackRun is one end-to-end run of the recommended stack.
type stackRun struct {
	target, topic, dlqTopic string
	pub                     herald.Publisher
	dlq                     *inbox
	logs                    *logRecorder
}

// newStackRun opens a publisher with the recommended publish stack, a
// subscriber of the dead-letter topic, and returns what runStack needs.
func newStackRun(t *testing.T, target string) *stackRun {
	r := &stackRun{target: target, topic: uniq("mw.orders"), dlq: newInbox(), logs: &logRecorder{notify: make(chan struct{}, 1)}}
	r.dlqTopic = r.topic + ".dlq"
	startSub(t, target, uniq("g-dlq"), r.dlqTopic, r.dlq.handler)
	r.pub = openPub(t, target, middleware.RecommendedPublish(middleware.Config{})...)
	return r
}

// subscribe starts the consumer with the recommended stack.
func (r *stackRun) subscribe(t *testing.T, pub herald.Publisher, retry []middleware.RetryOption, h herald.Handler) {
	mws, err := middleware.Recommended(pub, middleware.Config{
		Logger: slogFor(r.logs), DeadLetterTopic: "{topic}.dlq", Retry: retry,
	})
	if err != nil {
		t.Fatal(err)
	}
	startSub(t, r.target, uniq("g-orders"), r.topic, h, subscriber.WithMiddleware(mws...))
}

// publish publishes messages with these payloads and returns them.
func (r *stackRun) publish(t *testing.T, payloads ...string) []*herald.Message {
	t.Helper()
	var out []*herald.Message
	for _, p := range payloads {
		m := herald.NewMessage([]byte(p))
		herald.SetKey(m, "k-"+p)
		if err := r.pub.Publish(context.Background(), r.topic, m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// attemptCounter counts handler calls per payload.
type attemptCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *attemptCounter) inc(p string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[p]++
	return c.n[p]
}

func (c *attemptCounter) get(p string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[p]
}

// TestPoisonMessageIsDeadLettered: with the recommended stack, a message
// that always fails reaches the dead-letter topic with its metadata after
// exactly N attempts, while the other messages are handled; in both retry
// modes.
func TestPoisonMessageIsDeadLettered(t *testing.T) {
	const attempts = 3
	for _, mode := range []struct {
		name  string
		retry []middleware.RetryOption
	}{
		{"in-handler", []middleware.RetryOption{middleware.MaxAttempts(attempts), middleware.InitialDelay(5 * time.Millisecond)}},
		{"redelivery", []middleware.RetryOption{middleware.Redelivery(), middleware.MaxAttempts(attempts), middleware.InitialDelay(5 * time.Millisecond)}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, target string) {
				r := newStackRun(t, target)
				good := newInbox()
				var calls attemptCounter
				r.subscribe(t, r.pub, mode.retry, func(ctx context.Context, m *herald.Message) error {
					calls.inc(string(m.Payload))
					if string(m.Payload) == "poison" {
						return fmt.Errorf("cannot process order: %w", errBoom)
					}
					return good.handler(ctx, m)
				})
				sent := r.publish(t, "poison", "good-1", "good-2", "good-3")
				poison := sent[0]

				dl := r.dlq.wait(t, "the dead-lettered message", func(m []*herald.Message) bool { return len(m) > 0 })[0]
				good.wait(t, "the good messages", func(m []*herald.Message) bool { return len(m) >= 3 })
				if n := calls.get("poison"); n != attempts {
					t.Errorf("poison handled %d times; want exactly %d", n, attempts)
				}
				for _, p := range []string{"good-1", "good-2", "good-3"} {
					if n := calls.get(p); n != 1 {
						t.Errorf("%s handled %d times; want 1", p, n)
					}
				}
				checkDLQ(t, dl, poison, r.topic, fmt.Sprint(attempts), middleware.DLQReasonExhausted, "cannot process order: "+errBoom.Error(), time.Now().Add(-waitFor))
				if dl.Metadata.Get(middleware.CorrelationIDHeader) == "" {
					t.Error("dead-lettered message lost its correlation ID")
				}
				if got := len(r.dlq.snapshot()); got != 1 {
					t.Errorf("%d dead-lettered messages; want 1", got)
				}
				// The decision reached the logs (otelmw's test module
				// checks the metrics and spans).
				r.logs.waitFor(t, "herald: message dead-lettered", poison.UUID)
			})
		})
	}
}

// TestPanickingHandlerDoesNotStopSubscriber: a handler that panics on one
// message keeps consuming the others; the panicking message is retried
// and dead-lettered with the panic in its error header.
func TestPanickingHandlerDoesNotStopSubscriber(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		r := newStackRun(t, target)
		good := newInbox()
		var calls attemptCounter
		r.subscribe(t, r.pub, []middleware.RetryOption{middleware.MaxAttempts(2), middleware.InitialDelay(time.Millisecond)},
			func(ctx context.Context, m *herald.Message) error {
				calls.inc(string(m.Payload))
				if string(m.Payload) == "boom" {
					panic("deliberate panic in handler")
				}
				return good.handler(ctx, m)
			})
		r.publish(t, "before", "boom", "after-1", "after-2")
		good.wait(t, "the messages around the panic", func(m []*herald.Message) bool { return len(m) >= 3 })
		dl := r.dlq.wait(t, "the dead-lettered panicking message", func(m []*herald.Message) bool { return len(m) > 0 })[0]
		if e := dl.Metadata.Get(middleware.DLQErrorHeader); !strings.Contains(e, "deliberate panic in handler") {
			t.Errorf("error header = %q; want the panic value", e)
		}
		if n := calls.get("boom"); n != 2 {
			t.Errorf("panicking message handled %d times; want 2 (retried)", n)
		}
	})
}

// flakyPub fails its first n publishes.
type flakyPub struct {
	herald.Publisher
	fails atomic.Int32
}

var errDLQDown = errors.New("dead-letter broker unavailable (deliberate)")

func (p *flakyPub) Publish(ctx context.Context, topic string, msgs ...*herald.Message) error {
	if p.fails.Add(-1) >= 0 {
		return errDLQDown
	}
	return p.Publisher.Publish(ctx, topic, msgs...)
}

// TestFailingDeadLetterLeavesMessageUnacked: when the dead-letter publish
// fails, the message is nacked and comes back; it is dead-lettered once
// the publish works.
func TestFailingDeadLetterLeavesMessageUnacked(t *testing.T) {
	eachBackend(t, func(t *testing.T, target string) {
		r := newStackRun(t, target)
		flaky := &flakyPub{Publisher: r.pub}
		flaky.fails.Store(1)
		var calls attemptCounter
		r.subscribe(t, flaky, []middleware.RetryOption{middleware.InitialDelay(time.Millisecond)},
			func(_ context.Context, m *herald.Message) error {
				calls.inc(string(m.Payload))
				return herald.Permanent(errors.New("undecodable payload"))
			})
		sent := r.publish(t, "bad")
		dl := r.dlq.wait(t, "the dead-lettered message", func(m []*herald.Message) bool { return len(m) > 0 })[0]
		if n := calls.get("bad"); n != 2 {
			t.Errorf("message handled %d times; want 2 (nacked after the failed dead-letter publish, then redelivered)", n)
		}
		checkDLQ(t, dl, sent[0], r.topic, "1", middleware.DLQReasonPermanent, "undecodable payload", time.Now().Add(-waitFor))
		r.logs.waitFor(t, "herald: handler failed; message will be redelivered", sent[0].UUID)
	})
}

// TestRedeliveryDoesNotHoldOtherMessages: in Redelivery mode on the memory
// backend (which requeues a delayed nack with a timer), messages behind a
// failing one are handled while it waits for its redelivery.
func TestRedeliveryDoesNotHoldOtherMessages(t *testing.T) {
	r := newStackRun(t, "mem://"+uniq("mw"))
	var mu sync.Mutex
	var order []string
	good := newInbox()
	r.subscribe(t, r.pub, []middleware.RetryOption{middleware.Redelivery(), middleware.MaxAttempts(2), middleware.InitialDelay(2 * time.Second), middleware.Jitter(0)},
		func(ctx context.Context, m *herald.Message) error {
			mu.Lock()
			order = append(order, string(m.Payload))
			mu.Unlock()
			if string(m.Payload) == "slow-poison" {
				return errBoom
			}
			return good.handler(ctx, m)
		})
	r.publish(t, "slow-poison", "a", "b", "c")
	r.dlq.wait(t, "the dead-lettered message", func(m []*herald.Message) bool { return len(m) > 0 })
	mu.Lock()
	defer mu.Unlock()
	if want := "slow-poison a b c slow-poison"; strings.Join(order, " ") != want {
		t.Fatalf("handling order %q; want %q (the others handled during the 2s redelivery delay)", strings.Join(order, " "), want)
	}
}

// TestDeadLetterSharedStream is issue 7's first item: on JetStream with
// one stream capturing both the topic and its dead-letter topic, the
// dead-lettered copy must not be dropped as a duplicate of the original.
func TestDeadLetterSharedStream(t *testing.T) {
	r := newStackRun(t, "embedded://"+t.TempDir()+"?stream=ALL")
	r.subscribe(t, r.pub, nil, func(context.Context, *herald.Message) error {
		return herald.Permanent(errors.New("undecodable payload"))
	})
	sent := r.publish(t, "bad")
	dl := r.dlq.wait(t, "the dead-lettered message", func(m []*herald.Message) bool { return len(m) > 0 })[0]
	checkDLQ(t, dl, sent[0], r.topic, "1", middleware.DLQReasonPermanent, "undecodable payload", time.Now().Add(-waitFor))
}
