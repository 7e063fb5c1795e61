package adaptertest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldkit/herald"
)

// testPermanentErrorDoesNotSpin: a message whose handler always fails
// permanently, with no dead-letter middleware, is neither dropped nor
// redelivered in a hot loop: the subscriber's growing redelivery delay
// (1 s, 2 s, 4 s, ...) holds on every backend, whoever redelivers. (On Kafka such a message
// also holds up its partition, by design: see docs/guarantees.md.)
func testPermanentErrorDoesNotSpin(t *testing.T, e *env) {
	topic := e.topic("spin")
	ready, readyCh := readyOption()
	sub := e.subscriber(e.group("spin"), ready)
	var handled atomic.Int32
	second := make(chan struct{})
	e.subscribe(sub, readyCh, topic, func(ctx context.Context, m *herald.Message) error {
		if string(m.Payload) == "poison-0" {
			if handled.Add(1) == 2 {
				close(second)
			}
			return herald.Permanent(errors.New("does not decode"))
		}
		return nil
	})
	ids := publishN(t, e.publisher(), topic, 1, "poison")
	start := time.Now()
	select {
	case <-second:
	case <-time.After(e.wait()):
		t.Fatalf("message %s failed once and was not redelivered within %v", ids[0], e.wait())
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("redelivered after %v; want the first delay (1s) to hold", d)
	}
	// Nothing to wait on: count the deliveries over a window.
	time.Sleep(1500 * time.Millisecond)
	if n := handled.Load(); n > 3 {
		t.Errorf("message handled %d times within %v; the redelivery delay did not hold (hot loop)", n, time.Since(start).Round(time.Millisecond))
	}
}
