package heraldtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/middleware"
)

// topic is the harness's adapters.Topic.
type topic struct {
	bus    *bus
	mu     sync.Mutex
	closed bool
}

// Send implements adapters.Topic: it stores m and queues a copy for every
// group of the topic under the bus lock, then calls done, in the
// caller's goroutine. The queues have no limit: Send never waits. While
// the harness is down it fails with KindUnreachable; a fault (FailPublish)
// fails it with its kind.
//
// With o.At it is for delivery at o.At on the harness's Clock: the
// message is stored (among Published, with its delivery time in
// Publications) and held in the harness's schedule; once the Clock
// reaches o.At it is queued for the groups the topic has then. A time the
// Clock has reached already is queued at once. o.Properties are recorded
// in Publications (the harness takes every field, as a test of code
// written for any backend needs; deliveries do not carry them).
func (t *topic) Send(ctx context.Context, name string, m *herald.Message, o adapters.SendOptions, done func(error)) error {
	t.mu.Lock()
	closed := t.closed
	t.mu.Unlock()
	if closed {
		return opError(opPublish, name, herald.KindClosed, nil)
	}
	if name == "" {
		return opError(opPublish, name, herald.KindInvalid, errors.New("topic is empty"))
	}
	if err := ctx.Err(); err != nil {
		return opError(opPublish, name, herald.KindUnreachable, err)
	}
	b := t.bus
	b.mu.Lock()
	err := b.publish(name, m, o.At.Round(0), o.Properties)
	b.mu.Unlock()
	done(err)
	return nil
}

// publish takes m for name, for delivery at at (zero: now), unless the
// harness is closed or down or a fault fails it; b.mu is held.
func (b *bus) publish(name string, m *herald.Message, at time.Time, props herald.Properties) error {
	switch {
	case b.closed:
		return opError(opPublish, name, herald.KindClosed, errors.New("the harness is closed"))
	case b.down:
		return opError(opPublish, name, herald.KindUnreachable, b.downCause)
	}
	b.sends++
	if f := b.fault(name); f != nil {
		if f.kind == herald.KindOutcomeUnknown {
			b.store(name, m, at, props) // written, not answered: the broker has it
		}
		return opError(opPublish, name, f.kind, fmt.Errorf("fault injected by FailPublish: publish %d to %s", f.n, f.what()))
	}
	b.store(name, m, at, props)
	return nil
}

// store records m as published to name and queues it, or holds it in the
// schedule until at when the clock has not reached at; b.mu is held.
func (b *bus) store(name string, m *herald.Message, at time.Time, props herald.Properties) {
	p := &publication{msg: clone(m), at: b.clock.Now(), deliverAt: at, props: props}
	b.rec.published[name] = append(b.rec.published[name], p)
	if orig := m.Metadata.Get(middleware.DLQOriginalIDHeader); orig != "" {
		b.markDead(m.Metadata.Get(middleware.DLQTopicHeader), m.Metadata.Get(middleware.DLQGroupHeader), orig)
	}
	if at.IsZero() {
		b.put(name, m)
		return
	}
	b.scheduleAt(name, m, at, p)
}

// Close implements adapters.Topic.
func (t *topic) Close(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	return nil
}

// As implements adapters.Topic: the harness has no client object.
func (t *topic) As(any) bool { return false }
