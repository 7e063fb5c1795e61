package subscriber

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/errstyle"
)

// Subscriber consumes messages from one backend. It is safe for concurrent
// use and implements herald.Subscriber.
type Subscriber struct {
	cfg    herald.Config
	sub    adapters.Subscription
	caps   adapters.Capabilities
	window int // the stream window: WithWindow, else ?prefetch=, else the backend's default
	opts   options

	mu       sync.Mutex
	closed   bool
	stopping context.Context // cancelled by Close/Shutdown
	stop     context.CancelFunc
	limit    context.Context // the Shutdown deadline; set before stop()
	runs     map[*run]struct{}
	running  sync.WaitGroup
	once     sync.Once
	err      error
}

var _ herald.Subscriber = (*Subscriber)(nil)

// Open opens a subscriber for target, a URL such as
// "nats://localhost:4222?group=payments". An empty target reads HERALD_URL
// (see herald.Resolve) and falls back to the embedded broker.
func Open(ctx context.Context, target string, opts ...Option) (*Subscriber, error) {
	cfg, err := herald.Resolve(target)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg, opts...)
}

// OpenConfig opens a subscriber for cfg.
func OpenConfig(ctx context.Context, cfg herald.Config, opts ...Option) (*Subscriber, error) {
	o, err := apply(opts)
	if err != nil {
		return nil, err
	}
	cfg = cfg.Clone()
	if o.group != "" {
		cfg.Group = o.group
	}
	dcfg, common, err := adapters.SplitCommon(cfg)
	if err != nil {
		return nil, err
	}
	d, err := adapters.For(dcfg)
	if err != nil {
		return nil, err
	}
	caps := d.Capabilities(dcfg)
	window := o.window
	if window == 0 {
		window = common.Prefetch
	}
	if window == 0 {
		window = caps.DefaultWindow
	}
	if window <= 0 {
		window = DefaultWindow
	}
	if caps.MaxWindow > 0 {
		window = min(window, caps.MaxWindow)
	}
	sub, err := d.OpenSubscription(ctx, dcfg, adapters.Env{Logger: o.logger})
	if err != nil {
		return nil, errstyle.Wrap(err, cfg.Scheme, "open subscriber", "")
	}
	s := &Subscriber{cfg: cfg, sub: sub, caps: caps, window: window, opts: o, runs: map[*run]struct{}{}, limit: context.Background()}
	s.stopping, s.stop = context.WithCancel(context.Background())
	return s, nil
}

// Subscribe delivers topic's messages to h until ctx is done or the
// subscriber is closed, then drains in-flight handlers and returns nil.
// Making the subscription honours ctx and Close.
//
// h's return value settles each message: nil acks it, an error nacks it
// for redelivery after a delay that grows with the message's failures
// (see the package documentation). A subscription that breaks (lost
// connection, deleted queue, revoked permission) is retried with backoff
// and reported to the logger, the error hook and Health; if it has not
// recovered within the recovery timeout, Subscribe drains and returns an
// error wrapping herald.ErrSubscriptionLost. After Close it returns an
// error wrapping herald.ErrClosed.
func (s *Subscriber) Subscribe(ctx context.Context, topic string, h herald.Handler) error {
	if topic == "" {
		return fmt.Errorf("herald/%s: subscribe: topic is empty", s.cfg.Scheme)
	}
	if h == nil {
		return fmt.Errorf("herald/%s: subscribe to %q: handler is nil", s.cfg.Scheme, topic)
	}
	handler := herald.Chain(h, s.opts.middleware...)
	return s.serveRun(ctx, topic, func(r *run) { r.handler = handler })
}

// serveRun runs one Subscribe or SubscribeBatch call on topic; setup
// gives the run its handler.
func (s *Subscriber) serveRun(ctx context.Context, topic string, setup func(*run)) error {
	r := newRun(s, topic, ctx)
	setup(r)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.errorf(topic, herald.ErrClosed)
	}
	s.running.Add(1)
	s.runs[r] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.runs, r)
		s.mu.Unlock()
		s.running.Done()
	}()
	return r.serve(ctx)
}

// errorf formats an error about topic in Herald's style.
func (s *Subscriber) errorf(topic string, err error) error {
	return errstyle.Errorf(s.cfg.Scheme, "subscribe to", topic, err)
}

// Prepare creates, ahead of the first Subscribe, what the backend needs so
// that the subscriber's group keeps messages published from now on: the
// group's durable queue on RabbitMQ (where a message published to a topic
// no queue is bound to is dropped), the stream and durable consumer on
// JetStream. On other backends, and without a group, it does nothing.
// Call it at deployment or start-up, before publishers start. After Close
// it returns an error wrapping herald.ErrClosed.
func (s *Subscriber) Prepare(ctx context.Context, topics ...string) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	for _, topic := range topics {
		if topic == "" {
			return fmt.Errorf("herald/%s: prepare: topic is empty", s.cfg.Scheme)
		}
		if closed {
			return fmt.Errorf("herald/%s: prepare %q: %w", s.cfg.Scheme, topic, herald.ErrClosed)
		}
	}
	for _, topic := range topics {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("herald/%s: prepare %q: %w", s.cfg.Scheme, topic, err)
		}
		if err := s.sub.Prepare(ctx, topic); err != nil {
			return errstyle.Wrap(err, s.cfg.Scheme, "prepare", topic)
		}
	}
	return nil
}

// Close stops every Subscribe call, waits for their in-flight handlers
// (bounded by the drain timeout) and closes the backend connection. It is
// idempotent.
func (s *Subscriber) Close() error { return s.Shutdown(context.Background()) }

// Shutdown is Close bounded by ctx as well as by the drain timeout: when
// ctx ends first, handlers still running are detached (their messages stay
// unacked and are redelivered), the backend is closed in the background
// and Shutdown returns an error wrapping ctx.Err(). Use it with the
// deadline an orchestrator gives a stopping service.
func (s *Subscriber) Shutdown(ctx context.Context) error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.limit = ctx
		s.mu.Unlock()
		s.stop()

		done := make(chan error, 1)
		go func() {
			s.running.Wait()
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			done <- s.sub.Close(cctx)
		}()
		select {
		case err := <-done:
			if err != nil {
				s.err = errstyle.Wrap(err, s.cfg.Scheme, "close", "")
			}
		case <-ctx.Done():
			s.err = fmt.Errorf("herald/%s: close: gave up waiting for handlers and the backend: %w", s.cfg.Scheme, ctx.Err())
		}
	})
	return s.err
}

// shutdownLimit is the Shutdown context, once stopping began.
func (s *Subscriber) shutdownLimit() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limit
}

// Health reports whether every running subscription is receiving: nil
// when they are, otherwise an error per broken subscription (wrapping
// herald.ErrSubscriptionLost and the cause) joined with errors.Join, and
// an error wrapping herald.ErrClosed after Close. Serve it on a health
// endpoint.
func (s *Subscriber) Health() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("herald/%s: %w", s.cfg.Scheme, herald.ErrClosed)
	}
	runs := make([]*run, 0, len(s.runs))
	for r := range s.runs {
		runs = append(runs, r)
	}
	s.mu.Unlock()
	var errs []error
	for _, r := range runs {
		if err := r.status.health(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Config returns the subscriber's configuration, group included (print
// it: the password is redacted).
func (s *Subscriber) Config() herald.Config { return s.cfg.Clone() }

// Capabilities is what the backend declares it does (see
// adapters.Capabilities): what holds for ordering, redelivery and
// attempts on it.
func (s *Subscriber) Capabilities() adapters.Capabilities { return s.caps }

// As gives access to the driver's client objects (see each adapter's
// documentation) and reports whether target was set. For a Watermill
// message.Subscriber, see package wmbridge.
func (s *Subscriber) As(target any) bool { return s.sub.As(target) }
