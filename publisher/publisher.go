package publisher

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/errstyle"
)

// Publisher publishes messages to one backend. It is safe for concurrent
// use and implements herald.Publisher.
//
// The path of a message: Publish and PublishAsync run the publish
// middleware (on a copy of the caller's messages, so that the caller's
// are never changed), then hand each message to the driver's
// adapters.Topic.Send with a context carrying its deadline (the caller's,
// or the publish timeout) and a done callback. Publish waits for the
// dones of its messages; PublishAsync returns and calls the caller's done
// once every message its middleware produced was answered, then frees its
// slot in the async window.
type Publisher struct {
	cfg       herald.Config
	topic     adapters.Topic
	delay     adapters.DelayCapabilities // the backend's, for PublishAt
	props     adapters.PropertyCaps      // the backend's, for PublishWith
	mws       []herald.PublishMiddleware
	chain     herald.PublishFunc // sendWait, or the middleware around sendMiddleware, for Publish
	logger    *slog.Logger
	timeout   time.Duration
	async     *window
	deadlines deadlines
	waiters   sync.Pool // of *waiter, for Publish of one message

	mu       sync.RWMutex // held for reading by publishes being taken
	closed   bool
	inflight sync.WaitGroup // Publish calls under way
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
	cfg = cfg.Clone()
	dcfg, _, err := adapters.SplitCommon(cfg)
	if err != nil {
		return nil, err
	}
	d, err := adapters.For(dcfg)
	if err != nil {
		return nil, err
	}
	t, err := d.OpenTopic(ctx, dcfg, adapters.Env{Logger: o.logger})
	if err != nil {
		return nil, errstyle.Wrap(err, cfg.Scheme, "open publisher", "")
	}
	caps := d.Capabilities(dcfg)
	p := &Publisher{cfg: cfg, topic: t, delay: caps.Delay, props: caps.Properties, mws: o.middleware, logger: o.logger, timeout: o.timeout, async: newWindow(o.window)}
	p.deadlines.timeout = o.timeout
	p.waiters.New = newWaiter
	p.chain = p.sendWait
	if len(o.middleware) > 0 {
		p.chain = herald.ChainPublish(p.sendMiddleware, o.middleware...)
	}
	return p, nil
}

// errorf formats an error about topic in Herald's style.
func (p *Publisher) errorf(topic string, err error) error {
	return errstyle.Errorf(p.cfg.Scheme, "publish to", topic, err)
}

// check refuses what no backend can publish.
func (p *Publisher) check(topic string, msgs []*herald.Message) error {
	if topic == "" {
		return &herald.Error{Backend: p.cfg.Scheme, Op: "publish", Kind: herald.KindInvalid, Err: fmt.Errorf("topic is empty")}
	}
	for i, m := range msgs {
		if m == nil {
			return &herald.Error{Backend: p.cfg.Scheme, Op: "publish to", Topic: topic, Kind: herald.KindInvalid, Err: fmt.Errorf("message %d is nil", i)}
		}
	}
	return nil
}

// Close waits for the publishes under way and for PublishAsync's
// messages, then closes the backend connection. Every message taken has
// a deadline (its context's, or the publish timeout), so Close returns
// within the publish timeout, plus a second for the backend to close. It
// is idempotent; later Publish calls return herald.ErrClosed.
func (p *Publisher) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout+time.Second)
	defer cancel()
	return p.Shutdown(ctx)
}

// Shutdown is Close bounded by ctx: when ctx ends before the publishes in
// flight were answered, they fail with herald.ErrClosed (their dones are
// called), the backend is closed, and Shutdown returns an error wrapping
// ctx.Err().
func (p *Publisher) Shutdown(ctx context.Context) error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		idle := make(chan struct{})
		go func() {
			p.inflight.Wait()
			_ = p.async.wait(context.Background())
			close(idle)
		}()
		var waitErr error
		select {
		case <-idle:
		case <-ctx.Done():
			waitErr = fmt.Errorf("herald/%s: close: gave up waiting for publishes in flight: %w", p.cfg.Scheme, ctx.Err())
		}
		// The driver fails what it still holds (each done is called) and
		// closes; that is bounded by ctx too.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if waitErr != nil {
			cctx = ctx
		}
		err := p.topic.Close(cctx)
		p.deadlines.stop()
		if waitErr != nil {
			p.closeErr = waitErr
			return
		}
		p.closeErr = errstyle.Wrap(err, p.cfg.Scheme, "close", "")
	})
	return p.closeErr
}

// Config returns the publisher's configuration (print it: the password is
// redacted).
func (p *Publisher) Config() herald.Config { return p.cfg.Clone() }

// As gives access to the driver's client objects (see each adapter's
// documentation) and reports whether target was set. For a Watermill
// message.Publisher, see package wmbridge.
func (p *Publisher) As(target any) bool { return p.topic.As(target) }
