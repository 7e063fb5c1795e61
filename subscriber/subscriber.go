package subscriber

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Subscriber consumes messages from one backend. It is safe for concurrent
// use and implements herald.Subscriber.
type Subscriber struct {
	cfg  herald.Config
	wm   message.Subscriber
	opts options

	mu      sync.Mutex
	closed  bool
	closing chan struct{}
	running sync.WaitGroup
	once    sync.Once
	err     error
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
	wm, err := adapters.OpenSubscriberConfig(adapters.ContextWithLogger(ctx, o.logger), cfg)
	if err != nil {
		return nil, err
	}
	return &Subscriber{cfg: cfg, wm: wm, opts: o, closing: make(chan struct{})}, nil
}

// Subscribe delivers topic's messages to h until ctx is done or the
// subscriber is closed, then drains in-flight handlers and returns nil. It
// returns an error when the subscription cannot be made, and
// herald.ErrClosed after Close. A subscription that the backend ends on its
// own (a lost connection the adapter gave up on) is made again, with
// backoff, without returning.
func (s *Subscriber) Subscribe(ctx context.Context, topic string, h herald.Handler) error {
	if topic == "" {
		return errors.New("herald: subscribe: topic is empty")
	}
	if h == nil {
		return fmt.Errorf("herald: subscribe to %q: handler is nil", topic)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("herald: subscribe to %q: %w", topic, herald.ErrClosed)
	}
	s.running.Add(1)
	s.mu.Unlock()
	defer s.running.Done()

	d := herald.Delivery{Backend: s.cfg.Scheme, Topic: topic, Group: s.cfg.Group}
	r := &run{
		sub:     s,
		topic:   topic,
		handler: herald.Chain(h, s.opts.middleware...),
		base:    herald.ContextWithDelivery(context.WithoutCancel(ctx), d),
	}
	return r.serve(ctx)
}

// Prepare creates, ahead of the first Subscribe, what the backend needs so
// that the subscriber's group keeps messages published from now on: the
// group's durable queue on RabbitMQ (where a message published to a topic
// no queue is bound to is dropped), the stream and durable consumer on
// JetStream. On other backends, and without a group, it does nothing.
// Call it at deployment or start-up, before publishers start.
func (s *Subscriber) Prepare(ctx context.Context, topics ...string) error {
	init, ok := s.wm.(message.SubscribeInitializer)
	if !ok || s.cfg.Group == "" {
		return nil
	}
	for _, topic := range topics {
		if err := ctx.Err(); err != nil {
			return err
		}
		if topic == "" {
			return errors.New("herald: prepare: topic is empty")
		}
		if err := init.SubscribeInitialize(topic); err != nil {
			return fmt.Errorf("herald: prepare %q on %s: %w", topic, s.cfg.Scheme, err)
		}
	}
	return nil
}

// Close stops every Subscribe call, waits for their in-flight handlers
// (bounded by the drain timeout) and closes the backend connection. It is
// idempotent.
func (s *Subscriber) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.closing)
		s.mu.Unlock()
		s.running.Wait()
		s.err = s.wm.Close()
	})
	return s.err
}

// Config returns the subscriber's configuration, group included (print
// it: the password is redacted).
func (s *Subscriber) Config() herald.Config { return s.cfg.Clone() }

// As gives access to the underlying objects: a *message.Subscriber target
// receives the Watermill subscriber; other targets are passed to the
// adapter's subscriber (see each adapter's documentation). It reports
// whether target was set.
func (s *Subscriber) As(target any) bool {
	if t, ok := target.(*message.Subscriber); ok {
		*t = s.wm
		return true
	}
	if a, ok := s.wm.(interface{ As(any) bool }); ok {
		return a.As(target)
	}
	return false
}
