package natsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/heraldkit/herald"
)

// Subscriber is a Watermill subscriber on JetStream pull consumers.
//
// With a group, every Subscribe call, in any process, pulls from the
// group's durable consumer for the topic, so they compete for messages;
// a new group starts with every message the stream retains (or, with
// DeliverNew, with the messages published after its creation). Without a
// group, the Subscribe calls of one Subscriber share a consumer private to
// it, which starts with the messages published after the first Subscribe
// returned and is deleted on Close (or after InactiveThreshold if the
// process dies).
//
// Acks are sent when the handler acks; a nack is a NAK (after the delay
// recorded with adapters.SetNackDelay, else NakDelay or BackOff); while a
// handler runs, the message is kept from redelivery with progress
// signals. When Subscribe's context ends or the subscriber closes,
// fetching stops, buffered messages are returned to the consumer at once
// (NAK) and in-flight messages are acked or nacked as their handlers
// finish (on Close, for at most CloseTimeout).
//
// A subscription that breaks (connection lost, consumer or stream
// deleted, permission refused) is logged at warn level once per outage
// and reported with adapters.ReportStatus on the Subscribe context (an
// error wrapping herald.ErrSubscriptionLost and the cause); the consumer
// is created again with growing delays (100ms to 30s) until that works,
// and the recovery is logged at info level and reported with nil.
type Subscriber struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	set    Settings
	scheme string
	group  string
	id     string
	prov   *provisioner
	m      Marshaler
	log    *slog.Logger
	watch  *ConnWatch
	stop   context.Context // cancelled by Close
	cancel context.CancelFunc

	mu        sync.Mutex
	closed    bool
	consumers map[string]*consumerRef
	streams   map[*stream]struct{}
	wg        sync.WaitGroup

	sem     chan struct{} // serialises consumer creation
	once    sync.Once
	onClose func()
	as      func(any) bool
}

type consumerRef struct {
	stream, name string
	private      bool
}

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a subscriber over nc, which it owns: Close closes
// nc. group "" makes a private consumer per topic.
func NewSubscriber(nc *nats.Conn, set Settings, group string, o Options) (*Subscriber, error) {
	o.defaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("herald/%s: jetstream: %w", o.Scheme, err)
	}
	s := &Subscriber{
		nc: nc, js: js, set: set, scheme: o.Scheme, group: group, id: nuid.Next(),
		consumers: map[string]*consumerRef{}, sem: make(chan struct{}, 1),
		onClose: o.OnClose, as: o.As, log: o.Logger,
	}
	s.stop, s.cancel = context.WithCancel(context.Background())
	s.watch = NewConnWatch(nc, s.log, s.scheme, "subscriber")
	s.prov = newProvisioner(js, &s.set)
	return s, nil
}

// Subscribe returns the messages of topic. It returns once the consumer
// exists, so a message published after it returns is delivered; it gives
// up when ctx ends or the subscriber closes. The channel closes when ctx
// ends, the subscriber closes, or the connection is closed for good.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := CheckTopic(topic); err != nil {
		return nil, opError(s.scheme, opSubscribe, topic, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, opError(s.scheme, opSubscribe, topic, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, closedError(s.scheme, opSubscribe, topic)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	octx, cancel := s.opContext(ctx)
	c, it, err := s.iterator(octx, topic, s.set.Prefetch, false)
	cancel()
	if err != nil {
		s.wg.Done()
		return nil, s.opFailed(opSubscribe, topic, err)
	}
	sub := &subscription{
		s: s, ctx: ctx, topic: topic, out: make(chan *message.Message), wake: make(chan struct{}, 1),
		h: NewHealth(ctx, s.log, s.scheme, topic, s.group), window: s.set.Prefetch,
	}
	go sub.run(c, it)
	return sub.out, nil
}

// SubscribeInitialize provisions the topic's stream and consumer without
// consuming (Watermill's SubscribeInitializer), waiting at most 30s.
func (s *Subscriber) SubscribeInitialize(topic string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.SubscribeInitializeContext(ctx, topic)
}

// SubscribeInitializeContext is SubscribeInitialize bounded by ctx (and
// interrupted by Close).
func (s *Subscriber) SubscribeInitializeContext(ctx context.Context, topic string) error {
	if err := CheckTopic(topic); err != nil {
		return opError(s.scheme, opPrepare, topic, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return closedError(s.scheme, opPrepare, topic)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	octx, cancel := s.opContext(ctx)
	defer cancel()
	if _, err := s.consumer(octx, topic, s.set.Prefetch, false); err != nil {
		return s.opFailed(opPrepare, topic, err)
	}
	return nil
}

// opContext is ctx, also cancelled when the subscriber closes.
func (s *Subscriber) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.stop, cancel)
	return ctx, func() { stop(); cancel() }
}

// opFailed is the error of op on topic: it wraps ErrClosed if Close
// interrupted it, ErrUnreachable if the server could not be reached or
// did not answer in time.
func (s *Subscriber) opFailed(op, topic string, err error) error {
	switch {
	case s.stop.Err() != nil:
		err = fmt.Errorf("%w (interrupted: %w)", herald.ErrClosed, err)
	case !s.nc.IsConnected() || errors.Is(err, context.DeadlineExceeded) || Retryable(err):
		err = fmt.Errorf("%w: %w", herald.ErrUnreachable, err)
	}
	return opError(s.scheme, op, topic, err)
}

// iterator creates (or, with refresh, re-creates) the topic's consumer and
// starts pulling from it.
func (s *Subscriber) iterator(ctx context.Context, topic string, window int, refresh bool) (jetstream.Consumer, jetstream.MessagesContext, error) {
	c, err := s.consumer(ctx, topic, window, refresh)
	if err != nil {
		return nil, nil, err
	}
	it, err := c.Messages(jetstream.PullMaxMessages(window), jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		return nil, nil, fmt.Errorf("pulling from consumer %q: %w", c.CachedInfo().Name, err)
	}
	return c, it, nil
}

// consumer returns the consumer for topic, creating it on first use (or
// again with refresh, e.g. after it was deleted).
//
// window is the number of messages the caller keeps unacknowledged: the
// consumer's MaxAckPending is raised to it when lower.
func (s *Subscriber) consumer(ctx context.Context, topic string, window int, refresh bool) (jetstream.Consumer, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.sem }()
	if refresh {
		s.prov.forget(topic)
	}
	t, err := s.prov.ensure(ctx, topic)
	if err != nil {
		return nil, err
	}
	cfg := s.consumerConfig(topic, t, window)
	c, err := s.js.CreateOrUpdateConsumer(ctx, t.stream, cfg)
	if err != nil {
		what := fmt.Sprintf("the consumer of group %q", s.group)
		if s.group == "" {
			what = "a private consumer"
		}
		return nil, fmt.Errorf("creating %s on stream %q: %w", what, t.stream, err)
	}
	s.mu.Lock()
	s.consumers[topic] = &consumerRef{stream: t.stream, name: c.CachedInfo().Name, private: s.group == ""}
	s.mu.Unlock()
	return c, nil
}

func (s *Subscriber) consumerConfig(topic string, t target, window int) jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.set.AckWait,
		MaxDeliver:    s.set.MaxDeliver,
		BackOff:       s.set.BackOff,
		FilterSubject: topic,
		MaxAckPending: maxAckPending(s.set.MaxAckPending, window),
	}
	if s.group != "" {
		cfg.Durable = GroupConsumerName(s.group, topic, t.dedicated)
		cfg.Description = "Herald group " + s.group
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
		if s.set.DeliverNew {
			cfg.DeliverPolicy = jetstream.DeliverNewPolicy
		}
	} else {
		cfg.Name = PrivateConsumerName(s.id, topic, t.dedicated)
		cfg.Description = "Herald private consumer"
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
		cfg.InactiveThreshold = s.set.InactiveThreshold
	}
	return cfg
}

// serverMaxAckPending is the server's default MaxAckPending, used when
// the setting is 0.
const serverMaxAckPending = 1000

// maxAckPending is the consumer's MaxAckPending: the setting (0: the
// server's default), raised to window when lower, so that a stream's
// window is not throttled by the server.
func maxAckPending(set, window int) int {
	if set < 0 {
		return set // unlimited
	}
	eff := set
	if eff == 0 {
		eff = serverMaxAckPending
	}
	if window > eff {
		return window
	}
	return set
}

// Close stops every subscription and interrupts Subscribe calls still
// waiting, waits up to CloseTimeout for in-flight messages to be acked or
// nacked, deletes private consumers and closes the connection. It is
// idempotent.
func (s *Subscriber) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.cancel()
		streams := make([]*stream, 0, len(s.streams))
		for st := range s.streams {
			streams = append(streams, st)
		}
		s.mu.Unlock()
		// Streams return their unsettled deliveries at once.
		sctx, scancel := context.WithTimeout(context.Background(), s.set.CloseTimeout+time.Second)
		for _, st := range streams {
			_ = st.Close(sctx)
		}
		scancel()

		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		limit := s.set.CloseTimeout + 2*time.Second
		t := time.NewTimer(limit)
		select {
		case <-done:
		case <-t.C:
			err = fmt.Errorf("herald/%s: close subscriber: subscriptions did not stop within %v", s.scheme, limit)
		}
		t.Stop()
		if s.nc.IsConnected() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			s.mu.Lock()
			refs := s.consumers
			s.mu.Unlock()
			for _, c := range refs {
				if c.private {
					_ = s.js.DeleteConsumer(ctx, c.stream, c.name)
				}
			}
			cancel()
			_ = s.nc.FlushTimeout(2 * time.Second)
		}
		s.watch.Closing()
		s.nc.Close()
		if s.onClose != nil {
			s.onClose()
		}
	})
	return err
}

// As gives access to the underlying objects: **nats.Conn,
// *jetstream.JetStream, *message.Subscriber, and what the adapter adds
// (e.g. **server.Server for embedded).
func (s *Subscriber) As(target any) bool {
	switch t := target.(type) {
	case **nats.Conn:
		*t = s.nc
	case *jetstream.JetStream:
		*t = s.js
	case *message.Subscriber:
		*t = s
	default:
		return s.as != nil && s.as(target)
	}
	return true
}
