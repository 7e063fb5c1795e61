package publisher

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/errstyle"
)

// Publish sends msgs to topic and returns once the broker has
// acknowledged all of them. It honours ctx; when ctx has no deadline, the
// publish timeout bounds it. While the broker is unreachable, Publish
// waits for it until then and returns an error wrapping
// herald.ErrUnreachable (never written) or herald.ErrOutcomeUnknown
// (written, not answered: the broker may have it). With several
// messages, a *herald.BatchError says which failed. Publish does not
// change msgs. After Close it returns an error wrapping herald.ErrClosed.
//
// Publish middleware cannot lift the deadline: messages a middleware
// passes on with a context that lost it (context.WithoutCancel, a later
// deadline) keep the call's; with a context not derived from its own
// (context.Background()) they get the publish timeout from then.
func (p *Publisher) Publish(ctx context.Context, topic string, msgs ...*herald.Message) error {
	return p.publish(ctx, topic, adapters.SendOptions{}, msgs)
}

// PublishWith is Publish with broker properties for msgs (the Kafka
// record timestamp; AMQP's timestamp, expiration and type): see
// herald.Properties. A field the backend does not carry is refused with a
// *herald.Error of herald.ErrInvalid naming the backend and the field,
// before anything is sent; PublishWith with the zero Properties is
// Publish. Publish middleware runs as for Publish and cannot change or
// lose the properties.
func (p *Publisher) PublishWith(ctx context.Context, topic string, props herald.Properties, msgs ...*herald.Message) error {
	if err := p.checkProperties(topic, props); err != nil {
		return err
	}
	return p.publish(ctx, topic, adapters.SendOptions{Properties: props}, msgs)
}

// publish is Publish with the send options o (a delivery time, broker
// properties), checked by the caller against the backend's capabilities.
func (p *Publisher) publish(ctx context.Context, topic string, o adapters.SendOptions, msgs []*herald.Message) error {
	if err := p.check(topic, msgs); err != nil {
		return err
	}
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return &herald.Error{Backend: p.cfg.Scheme, Op: "publish to", Topic: topic, Kind: herald.KindClosed}
	}
	p.inflight.Add(1)
	p.mu.RUnlock()
	defer p.inflight.Done()
	if len(msgs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return p.errorf(topic, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	if len(p.mws) == 0 {
		// The Delivery is for publish middleware; the driver reads
		// nothing from ctx but its deadline.
		return errstyle.Wrap(p.sendWaitWith(ctx, topic, o, msgs), p.cfg.Scheme, "publish to", topic)
	}
	// A variable of its own, so that the caller's msgs do not escape.
	copies := copyMessages(msgs)
	ctx = context.WithValue(ctx, callKey{}, ctx) // for sendMiddleware
	ctx = herald.ContextWithDelivery(ctx, herald.Delivery{Backend: p.cfg.Scheme, Topic: topic})
	chain := p.chain
	if o != (adapters.SendOptions{}) {
		// A chain of its own around the options, so that no middleware
		// can lose them (a context could be replaced).
		chain = herald.ChainPublish(func(ctx context.Context, topic string, msgs ...*herald.Message) error {
			return p.sendMiddlewareWith(ctx, topic, o, msgs)
		}, p.mws...)
	}
	return errstyle.Wrap(chain(ctx, topic, copies...), p.cfg.Scheme, "publish to", topic)
}

// callKey is the context key under which Publish hands its call's
// context (with the call's deadline) to sendMiddleware, through the
// middleware.
type callKey struct{}

// sendMiddleware is the innermost PublishFunc of Publish with middleware.
// A middleware may pass on a context without the call's deadline
// (context.WithoutCancel, a later deadline): the messages keep the
// call's, found in ctx's values. A context not derived from the one the
// middleware got (context.Background()) has lost the call, as a Publish
// given such a context would: the messages get the publish timeout from
// now. One chain serves every call: no closure per call.
func (p *Publisher) sendMiddleware(ctx context.Context, topic string, msgs ...*herald.Message) error {
	return p.sendMiddlewareWith(ctx, topic, adapters.SendOptions{}, msgs)
}

// sendMiddlewareWith is sendMiddleware with the send options o.
func (p *Publisher) sendMiddlewareWith(ctx context.Context, topic string, o adapters.SendOptions, msgs []*herald.Message) error {
	var dl time.Time
	if call, ok := ctx.Value(callKey{}).(context.Context); ok {
		dl, _ = call.Deadline() // Publish gave it one
	} else {
		dl = time.Now().Add(p.timeout)
	}
	if have, ok := ctx.Deadline(); !ok || have.After(dl) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl)
		defer cancel()
	}
	return p.sendWaitWith(ctx, topic, o, msgs)
}

// sendWait is the innermost PublishFunc of Publish without middleware: it sends each message
// and waits for every answer, or for ctx.
func (p *Publisher) sendWait(ctx context.Context, topic string, msgs ...*herald.Message) error {
	return p.sendWaitWith(ctx, topic, adapters.SendOptions{}, msgs)
}

// sendWaitWith is sendWait with the send options o.
func (p *Publisher) sendWaitWith(ctx context.Context, topic string, o adapters.SendOptions, msgs []*herald.Message) error {
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		w := p.waiters.Get().(*waiter)
		if err := p.topic.Send(ctx, topic, msgs[0], o, w.done); err != nil {
			p.waiters.Put(w) // done is not called
			return err
		}
		select {
		case err := <-w.ch:
			p.waiters.Put(w)
			return err
		case <-ctx.Done():
			err, answered := p.noAnswer(ctx, topic, w.ch)
			if answered {
				p.waiters.Put(w)
			} // else the driver may still answer: w is left to it
			return err
		}
	}
	b := newBatch(len(msgs))
	for i, m := range msgs {
		if err := p.topic.Send(ctx, topic, m, o, func(err error) { b.answer(i, err) }); err != nil {
			b.answer(i, err)
		}
	}
	select {
	case <-b.all:
		return b.result(nil)
	case <-ctx.Done():
		t := time.NewTimer(verdictGrace)
		defer t.Stop()
		select {
		case <-b.all:
		case <-t.C:
		}
		return b.result(p.outcomeUnknown(ctx, topic))
	}
}

// verdictGrace is how long a publish whose ctx ended waits for the
// driver's own verdict: drivers fail a message promptly once its ctx
// ends, and only they know whether it was written (unreachable) or not
// answered (outcome unknown).
const verdictGrace = 100 * time.Millisecond

// noAnswer is the error of a publish whose ctx ended before the driver
// answered: the driver's verdict if it comes within verdictGrace, else
// outcome unknown.
// It reports whether the driver answered.
func (p *Publisher) noAnswer(ctx context.Context, topic string, ch <-chan error) (error, bool) {
	t := time.NewTimer(verdictGrace)
	defer t.Stop()
	select {
	case err := <-ch:
		return err, true
	case <-t.C:
		return p.outcomeUnknown(ctx, topic), false
	}
}

// waiter is the done of a Publish of one message and the channel it
// answers on, bound once and recycled (Publisher.waiters) once the answer was
// read: a Publish costs no allocation of its own for it.
type waiter struct {
	ch   chan error
	done func(error)
}

// newWaiter is the New of a Publisher's waiters. The pool is the
// publisher's, not global: a channel must not cross from one
// testing/synctest bubble (a test's publisher) to another.
func newWaiter() any {
	w := &waiter{ch: make(chan error, 1)}
	w.done = func(err error) { w.ch <- err }
	return w
}

func (p *Publisher) outcomeUnknown(ctx context.Context, topic string) error {
	return &herald.Error{Backend: p.cfg.Scheme, Op: "publish to", Topic: topic, Kind: herald.KindOutcomeUnknown,
		Err: fmt.Errorf("no answer from the broker before the deadline (it may have the message): %w", context.Cause(ctx))}
}

// batch collects the answers of a Publish of several messages.
type batch struct {
	mu       sync.Mutex
	errs     []error
	answered []bool
	left     int
	all      chan struct{}
}

func newBatch(n int) *batch {
	return &batch{errs: make([]error, n), answered: make([]bool, n), left: n, all: make(chan struct{})}
}

func (b *batch) answer(i int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.answered[i] {
		return
	}
	b.answered[i], b.errs[i] = true, err
	if b.left--; b.left == 0 {
		close(b.all)
	}
}

// result is nil when every message was acknowledged, else a
// *herald.BatchError; unanswered messages get late.
func (b *batch) result(late error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	failed := false
	errs := make([]error, len(b.errs))
	for i, err := range b.errs {
		if !b.answered[i] {
			err = late
		}
		errs[i] = err
		failed = failed || err != nil
	}
	if !failed {
		return nil
	}
	return &herald.BatchError{Errs: errs}
}

// copyMessages returns copies of msgs that middleware may change: same
// ID and payload, their own metadata.
func copyMessages(msgs []*herald.Message) []*herald.Message {
	out := make([]*herald.Message, len(msgs))
	for i, m := range msgs {
		out[i] = copyMessage(m)
	}
	return out
}

func copyMessage(m *herald.Message) *herald.Message { return m.Copy() }
