package middleware_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/heraldkit/herald"
)

var errBoom = errors.New("boom: deliberate failure")

// deliveryCtx is a handler ctx as the subscriber makes it.
func deliveryCtx(topic, group string) context.Context {
	return herald.ContextWithDelivery(context.Background(), herald.Delivery{Backend: "mem", Topic: topic, Group: group})
}

// fakePub records published messages; it fails while fail > 0
// (decrementing it).
type fakePub struct {
	mu    sync.Mutex
	fail  int
	err   error
	sent  []sent
	calls atomic.Int32
}

type sent struct {
	topic string
	msg   *herald.Message
	ctx   context.Context
}

func (p *fakePub) Publish(ctx context.Context, topic string, msgs ...*herald.Message) error {
	p.calls.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail > 0 {
		p.fail--
		if p.err != nil {
			return p.err
		}
		return errors.New("fake publisher: deliberate publish failure")
	}
	for _, m := range msgs {
		p.sent = append(p.sent, sent{topic: topic, msg: m, ctx: ctx})
	}
	return nil
}

func (p *fakePub) Close() error { return nil }

func (p *fakePub) messages() []sent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]sent(nil), p.sent...)
}

// counter is a handler that fails its first n calls with err, then
// succeeds, counting calls.
type counter struct {
	calls atomic.Int32
	failN int32
	err   error
}

func (c *counter) handle(context.Context, *herald.Message) error {
	if c.calls.Add(1) <= c.failN {
		return c.err
	}
	return nil
}

// chain wraps h in mws.
func chain(h herald.Handler, mws ...herald.Middleware) herald.Handler {
	return herald.Chain(h, mws...)
}
