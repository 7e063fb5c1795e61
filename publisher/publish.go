package publisher

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/heraldkit/herald"
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
func (p *Publisher) Publish(ctx context.Context, topic string, msgs ...*herald.Message) error {
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
	if len(p.mws) > 0 {
		msgs = copyMessages(msgs)
	}
	ctx = herald.ContextWithDelivery(ctx, herald.Delivery{Backend: p.cfg.Scheme, Topic: topic})
	return errstyle.Wrap(p.chain(ctx, topic, msgs...), p.cfg.Scheme, "publish to", topic)
}

// sendWait is the innermost PublishFunc of Publish: it sends each message
// and waits for every answer, or for ctx.
func (p *Publisher) sendWait(ctx context.Context, topic string, msgs ...*herald.Message) error {
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		ch := make(chan error, 1)
		if err := p.topic.Send(ctx, topic, msgs[0], func(err error) { ch <- err }); err != nil {
			return err
		}
		select {
		case err := <-ch:
			return err
		case <-ctx.Done():
			return p.noAnswer(ctx, topic, ch)
		}
	}
	b := newBatch(len(msgs))
	for i, m := range msgs {
		if err := p.topic.Send(ctx, topic, m, func(err error) { b.answer(i, err) }); err != nil {
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
func (p *Publisher) noAnswer(ctx context.Context, topic string, ch <-chan error) error {
	t := time.NewTimer(verdictGrace)
	defer t.Stop()
	select {
	case err := <-ch:
		return err
	case <-t.C:
		return p.outcomeUnknown(ctx, topic)
	}
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
