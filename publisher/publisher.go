package publisher

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/errstyle"
)

// Publisher publishes messages to one backend. It is safe for concurrent
// use and implements herald.Publisher.
type Publisher struct {
	cfg     herald.Config
	wm      message.Publisher
	publish herald.PublishFunc
	logger  *slog.Logger
	timeout time.Duration
	async   *pending

	mu       sync.RWMutex // held for reading by publishes in flight
	closed   bool
	inflight sync.WaitGroup
	once     sync.Once
	closeErr error
}

var _ herald.Publisher = (*Publisher)(nil)

// Open opens a publisher for target, a URL such as
// "nats://localhost:4222". An empty target reads HERALD_URL (see
// herald.Resolve) and falls back to the embedded broker.
func Open(ctx context.Context, target string, opts ...Option) (*Publisher, error) {
	cfg, err := herald.Resolve(target)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg, opts...)
}

// OpenConfig opens a publisher for cfg.
func OpenConfig(ctx context.Context, cfg herald.Config, opts ...Option) (*Publisher, error) {
	o, err := apply(opts)
	if err != nil {
		return nil, err
	}
	wm, err := adapters.OpenPublisherConfig(adapters.ContextWithLogger(ctx, o.logger), cfg)
	if err != nil {
		return nil, err
	}
	p := &Publisher{cfg: cfg, wm: wm, logger: o.logger, timeout: o.timeout, async: newPending(o.window)}
	p.publish = herald.ChainPublish(p.send, o.middleware...)
	return p, nil
}

// Publish sends msgs to topic and returns once the broker has
// acknowledged all of them. It honours ctx; when ctx has no deadline, the
// publish timeout bounds it. While the broker is unreachable, Publish
// waits for it until then and returns an error wrapping
// herald.ErrUnreachable. Publish does not change msgs. After Close it
// returns an error wrapping herald.ErrClosed.
func (p *Publisher) Publish(ctx context.Context, topic string, msgs ...*herald.Message) error {
	if topic == "" {
		return fmt.Errorf("herald/%s: publish: topic is empty", p.cfg.Scheme)
	}
	for i, m := range msgs {
		if m == nil {
			return errstyle.Errorf(p.cfg.Scheme, "publish to", topic, fmt.Errorf("message %d is nil", i))
		}
	}
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return errstyle.Errorf(p.cfg.Scheme, "publish to", topic, herald.ErrClosed)
	}
	p.inflight.Add(1)
	p.mu.RUnlock()
	defer p.inflight.Done()
	if err := ctx.Err(); err != nil {
		return errstyle.Errorf(p.cfg.Scheme, "publish to", topic, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	ctx = herald.ContextWithDelivery(ctx, herald.Delivery{Backend: p.cfg.Scheme, Topic: topic})
	return errstyle.Wrap(p.publish(ctx, topic, msgs...), p.cfg.Scheme, "publish to", topic)
}

// send is the innermost PublishFunc: it hands the messages to the
// backend. PublishAsync's message goes to the adapter's pipelined path;
// several messages go there too when the adapter has one (each is
// answered on its own: the error says which failed); one message goes
// with ctx when the adapter takes one (adapters.ContextPublisher).
func (p *Publisher) send(ctx context.Context, topic string, msgs ...*herald.Message) error {
	if done, ok := ctx.Value(asyncDoneKey{}).(func(error)); ok && len(msgs) == 1 {
		return p.sendAsync(ctx, topic, msgs[0], done)
	}
	if ap, ok := p.wm.(adapters.AsyncPublisher); ok && len(msgs) > 1 {
		return p.sendBatch(ctx, ap, topic, msgs)
	}
	return p.sendSync(ctx, topic, msgs...)
}

// sendSync publishes and waits for the broker's answer.
func (p *Publisher) sendSync(ctx context.Context, topic string, msgs ...*herald.Message) error {
	if cp, ok := p.wm.(adapters.ContextPublisher); ok {
		return cp.PublishContext(ctx, topic, msgs...)
	}
	return p.wm.Publish(topic, msgs...)
}

// Close waits for publishes in flight (each bounded by its context or the
// publish timeout) and for PublishAsync's messages, then closes the backend connection. It is idempotent;
// later Publish calls return herald.ErrClosed.
func (p *Publisher) Close() error { return p.Shutdown(context.Background()) }

// Shutdown is Close bounded by ctx: when ctx ends before the publishes in
// flight returned and the backend closed, Shutdown returns an error
// wrapping ctx.Err() and the backend is closed in the background (the
// publishes still in flight then fail).
func (p *Publisher) Shutdown(ctx context.Context) error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		closeBackend := sync.OnceValue(p.wm.Close)
		done := make(chan error, 1)
		go func() {
			p.inflight.Wait()
			_ = p.async.wait(ctx) // PublishAsync's messages, within ctx
			done <- closeBackend()
		}()
		select {
		case err := <-done:
			p.closeErr = errstyle.Wrap(err, p.cfg.Scheme, "close", "")
		case <-ctx.Done():
			go closeBackend()
			p.closeErr = fmt.Errorf("herald/%s: close: gave up waiting for publishes in flight: %w", p.cfg.Scheme, ctx.Err())
		}
	})
	return p.closeErr
}

// Config returns the publisher's configuration (print it: the password is
// redacted).
func (p *Publisher) Config() herald.Config { return p.cfg.Clone() }

// As gives access to the underlying objects: a *message.Publisher target
// receives the Watermill publisher; other targets are passed to the
// adapter's publisher (see each adapter's documentation). It reports
// whether target was set.
func (p *Publisher) As(target any) bool {
	if t, ok := target.(*message.Publisher); ok {
		*t = p.wm
		return true
	}
	if a, ok := p.wm.(interface{ As(any) bool }); ok {
		return a.As(target)
	}
	return false
}
