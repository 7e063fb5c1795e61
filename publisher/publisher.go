package publisher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Publisher publishes messages to one backend. It is safe for concurrent
// use and implements herald.Publisher.
type Publisher struct {
	cfg     herald.Config
	wm      message.Publisher
	publish herald.PublishFunc
	logger  *slog.Logger

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
	p := &Publisher{cfg: cfg, wm: wm, logger: o.logger}
	p.publish = herald.ChainPublish(p.send, o.middleware...)
	return p, nil
}

// Publish sends msgs to topic and returns once the broker has accepted all
// of them. Publish after Close returns herald.ErrClosed.
func (p *Publisher) Publish(ctx context.Context, topic string, msgs ...*herald.Message) error {
	if topic == "" {
		return errors.New("herald: publish: topic is empty")
	}
	for i, m := range msgs {
		if m == nil {
			return fmt.Errorf("herald: publish to %q: message %d is nil", topic, i)
		}
	}
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return fmt.Errorf("herald: publish to %q: %w", topic, herald.ErrClosed)
	}
	p.inflight.Add(1)
	p.mu.RUnlock()
	defer p.inflight.Done()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("herald: publish to %q: %w", topic, err)
	}
	ctx = herald.ContextWithDelivery(ctx, herald.Delivery{Backend: p.cfg.Scheme, Topic: topic})
	return p.publish(ctx, topic, msgs...)
}

// send is the innermost PublishFunc: it hands the messages to Watermill.
func (p *Publisher) send(ctx context.Context, topic string, msgs ...*herald.Message) error {
	for _, m := range msgs {
		m.SetContext(ctx)
	}
	if ctx.Done() == nil {
		return p.wrap(topic, p.wm.Publish(topic, msgs...))
	}
	done := make(chan error, 1)
	p.inflight.Add(1)
	go func() {
		defer p.inflight.Done()
		done <- p.wm.Publish(topic, msgs...)
	}()
	select {
	case err := <-done:
		return p.wrap(topic, err)
	case <-ctx.Done():
		return fmt.Errorf("herald: publish to %q: %w (the broker may still receive the message)", topic, ctx.Err())
	}
}

func (p *Publisher) wrap(topic string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("herald: publish to %q on %s: %w", topic, p.cfg.Scheme, err)
}

// Close waits for publishes in flight, then closes the backend
// connection. It is idempotent; later Publish calls return
// herald.ErrClosed.
func (p *Publisher) Close() error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		p.inflight.Wait()
		p.closeErr = p.wm.Close()
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
