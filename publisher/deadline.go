package publisher

import (
	"context"
	"sync"
	"time"
)

// deadlines hands PublishAsync's messages a context carrying their
// deadline (now + the publish timeout) without a timer per message: the
// messages sent within one slice of the timeout (a hundredth of it) share
// a context whose deadline is the slice's end. A message thus waits at
// most the publish timeout plus a hundredth.
type deadlines struct {
	timeout time.Duration

	mu      sync.Mutex
	ctx     context.Context
	until   time.Time
	cancels []context.CancelFunc // of contexts possibly still in use
}

// get returns the context for a message sent now.
func (d *deadlines) get() context.Context {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx != nil && !now.Add(d.timeout).After(d.until) {
		return d.ctx
	}
	slice := max(d.timeout/100, time.Millisecond)
	d.until = now.Add(d.timeout + slice)
	ctx, cancel := context.WithDeadline(context.Background(), d.until)
	d.ctx = ctx
	// Older contexts are past their deadline (their timer is released);
	// keep the cancels of the recent ones for stop.
	if len(d.cancels) >= 128 {
		d.cancels = append(d.cancels[:0], d.cancels[64:]...)
	}
	d.cancels = append(d.cancels, cancel)
	return ctx
}

// stop releases the contexts' timers (after Close: nothing uses them).
func (d *deadlines) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.cancels {
		c()
	}
	d.cancels = nil
	d.ctx = nil
}
