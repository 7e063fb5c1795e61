package wmbridge

import (
	"context"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Subscriber is a Watermill message.Subscriber (and
// message.SubscribeInitializer) on a Herald backend's consume side
// (adapters.Subscription) for one consumer group.
//
// Each Subscribe opens a stream and feeds its channel one message at a
// time: the next message comes once the previous one was acked or nacked,
// as with Watermill's own subscribers. msg.Ack() settles the delivery at
// the broker; msg.Nack() has it delivered again after the nack delay
// (WithNackDelay): the broker redelivers it, or, on backends whose
// Capabilities.Redelivery is RedeliverLocal (Kafka, mem), the Subscriber
// sends it again on the same channel before any later message. A
// message's Context is a child of Subscribe's ctx and is cancelled once
// the message is acked or nacked, or the subscription ends.
//
// A stream that breaks (its Receive fails) is closed and opened again
// with backoff; messages not acked by then are redelivered by the broker.
type Subscriber struct {
	sub    adapters.Subscription
	scheme string
	caps   adapters.Capabilities
	window int
	set    settings

	base    context.Context // cancelled by Close: every consumer stops
	stop    context.CancelFunc
	mu      sync.Mutex
	closed  bool
	running sync.WaitGroup // one per consumer
}

var (
	_ message.Subscriber           = (*Subscriber)(nil)
	_ message.SubscribeInitializer = (*Subscriber)(nil)
)

// NewSubscriber opens the consume side of driver d for cfg (cfg.Group is
// the consumer group, "" for a subscriber that gets every message) and
// returns it as a Watermill subscriber. cfg is validated by d first (no
// I/O); its prefetch option is the consume window unless WithWindow is
// given. ctx bounds the opening only.
func NewSubscriber(ctx context.Context, d adapters.Driver, cfg herald.Config, opts ...Option) (*Subscriber, error) {
	set, err := newSettings(opts)
	if err != nil {
		return nil, err
	}
	b, err := prepare(d, cfg)
	if err != nil {
		return nil, err
	}
	window := set.window
	if window == 0 {
		window = b.common.Prefetch
	}
	if window == 0 {
		window = b.caps.DefaultWindow
	}
	if m := b.caps.MaxWindow; m > 0 {
		window = min(window, m)
	}
	if window < 1 {
		window = 1
	}
	s, err := d.OpenSubscription(ctx, b.cfg, adapters.Env{Logger: set.logger})
	if err != nil {
		return nil, err
	}
	base, stop := context.WithCancel(context.Background())
	return &Subscriber{sub: s, scheme: b.cfg.Scheme, caps: b.caps, window: window, set: set, base: base, stop: stop}, nil
}

// Capabilities returns what the backend declared it does
// (adapters.Driver.Capabilities for the subscriber's configuration).
func (s *Subscriber) Capabilities() adapters.Capabilities { return s.caps }

// Subscribe starts consuming topic and returns the channel of its
// messages. It returns once the subscription exists: a message published
// after Subscribe returned is delivered. The channel is closed when ctx
// ends or the Subscriber is closed.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, &herald.Error{Backend: s.scheme, Op: "subscribe to", Topic: topic, Kind: herald.KindClosed}
	}
	s.running.Add(1)
	s.mu.Unlock()

	lctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(s.base, cancel)
	c := newConsumer(s, topic, lctx)
	st, err := s.open(lctx, c)
	if err != nil {
		unhook()
		cancel()
		s.running.Done()
		return nil, err
	}
	go func() {
		defer s.running.Done()
		defer unhook()
		defer cancel()
		c.run(st)
	}()
	return c.out, nil
}

// open opens a stream for c.
func (s *Subscriber) open(ctx context.Context, c *consumer) (adapters.Stream, error) {
	return s.sub.Open(ctx, c.topic, adapters.StreamOptions{Window: s.window, Status: c.status})
}

// SubscribeInitialize creates what the backend needs so that the
// subscriber's group keeps the messages of topic published from now on,
// before the first Subscribe (adapters.Subscription.Prepare), within the
// close timeout.
func (s *Subscriber) SubscribeInitialize(topic string) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.set.closeTimeout)
	defer cancel()
	return s.sub.Prepare(ctx, topic)
}

// Close ends every subscription (their channels are closed, messages not
// acked are left for redelivery) and closes the connection, within the
// close timeout. It is idempotent.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stop()
	ctx, cancel := context.WithTimeout(context.Background(), s.set.closeTimeout)
	defer cancel()
	waited := make(chan struct{})
	go func() {
		s.running.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-ctx.Done():
	}
	return s.sub.Close(ctx)
}

// As sets target to an underlying client object of the backend (see
// adapters.Subscription.As) and reports whether it did.
func (s *Subscriber) As(target any) bool { return s.sub.As(target) }
