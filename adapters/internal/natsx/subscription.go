package natsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Subscription is the JetStream consume side (adapters.Subscription) of
// one group on one connection.
//
// With a group, every stream opened on a topic, in any process, pulls
// from the group's durable consumer, so they compete for messages; a new
// group starts with every message the stream retains (or, with
// DeliverNew, with the messages published after its creation). Without a
// group, the streams of one Subscription share a consumer private to it
// per topic, which starts with the messages published after its first
// Open returned and is deleted on Close (or by the server after
// InactiveThreshold if the process dies).
type Subscription struct {
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
	consumers map[string]consumerRef
	streams   map[*Stream]struct{}

	sem     chan struct{} // serialises consumer creation
	once    sync.Once
	onClose func()
	as      func(any) bool
}

type consumerRef struct {
	stream, name string
	private      bool
}

var _ adapters.Subscription = (*Subscription)(nil)

// NewSubscription returns the consume side of group ("" for private
// consumers) over nc, which it owns: Close closes nc.
func NewSubscription(nc *nats.Conn, set Settings, group string, o Options) (*Subscription, error) {
	o.defaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, Error(o.Scheme, "open", "", herald.KindOther, fmt.Errorf("jetstream: %w", err))
	}
	s := &Subscription{
		nc: nc, js: js, set: set, scheme: o.Scheme, group: group, id: nuid.Next(),
		consumers: map[string]consumerRef{}, streams: map[*Stream]struct{}{}, sem: make(chan struct{}, 1),
		onClose: o.OnClose, as: o.As, log: o.Logger,
	}
	s.stop, s.cancel = context.WithCancel(context.Background())
	s.watch = NewConnWatch(nc, s.log, s.scheme, "subscription")
	s.prov = newProvisioner(js, &s.set)
	return s, nil
}

// Prepare implements adapters.Subscription: with a group it creates the
// topic's stream (as allowed) and the group's durable consumer, so the
// group keeps the messages published from now on; without a group it
// does nothing.
func (s *Subscription) Prepare(ctx context.Context, topic string) error {
	if err := CheckTopic(topic); err != nil {
		return Error(s.scheme, opPrepare, topic, herald.KindInvalid, err)
	}
	if err := s.enter(opPrepare, topic); err != nil {
		return err
	}
	if s.group == "" {
		return nil
	}
	octx, cancel := s.opContext(ctx)
	defer cancel()
	if _, err := s.consumer(octx, topic, 0); err != nil {
		return s.opFailed(ctx, opPrepare, topic, err)
	}
	return nil
}

// Open implements adapters.Subscription: it creates (or updates) the
// consumer, raising its MaxAckPending to o.Window when lower, and starts
// pulling at most o.Window messages (see Stream).
func (s *Subscription) Open(ctx context.Context, topic string, o adapters.StreamOptions) (adapters.Stream, error) {
	if err := CheckTopic(topic); err != nil {
		return nil, Error(s.scheme, opSubscribe, topic, herald.KindInvalid, err)
	}
	if err := s.enter(opSubscribe, topic); err != nil {
		return nil, err
	}
	o.Window = max(o.Window, 1)
	if o.Status == nil {
		o.Status = func(error) {}
	}
	octx, cancel := s.opContext(ctx)
	defer cancel()
	c, err := s.consumer(octx, topic, o.Window)
	if err != nil {
		return nil, s.opFailed(ctx, opSubscribe, topic, err)
	}
	st, err := newStream(s, c, topic, o)
	if err != nil {
		return nil, s.opFailed(ctx, opSubscribe, topic, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = st.Close(ctx)
		return nil, closedError(s.scheme, opSubscribe, topic)
	}
	s.streams[st] = struct{}{}
	s.mu.Unlock()
	return st, nil
}

// enter fails op after Close.
func (s *Subscription) enter(op, topic string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return closedError(s.scheme, op, topic)
	}
	return nil
}

// opContext is ctx, also cancelled when the subscription closes.
func (s *Subscription) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.stop, cancel)
	return ctx, func() { stop(); cancel() }
}

// opFailed is the *herald.Error of op on topic: KindClosed if Close
// interrupted it, ctx's kind if ctx ended, else the cause's.
func (s *Subscription) opFailed(ctx context.Context, op, topic string, err error) error {
	k := Kind(err)
	switch {
	case s.stop.Err() != nil:
		k = herald.KindClosed
	case ctx.Err() != nil:
		k = ctxKind(ctx, s.nc)
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	case errors.Is(err, errNoStream):
		k = herald.KindInvalid
	}
	return Error(s.scheme, op, topic, k, err)
}

// consumer returns the consumer for topic, creating it or updating its
// configuration. window is the number of messages the stream keeps
// unsettled (0 for Prepare): the consumer's MaxAckPending is raised to
// it when lower.
func (s *Subscription) consumer(ctx context.Context, topic string, window int) (jetstream.Consumer, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.sem }()
	for attempt := 0; ; attempt++ {
		t, err := s.prov.ensure(ctx, topic)
		if err != nil {
			return nil, err
		}
		cfg := s.consumerConfig(topic, t, window)
		c, err := s.js.CreateOrUpdateConsumer(ctx, t.stream, cfg)
		if errors.Is(err, jetstream.ErrStreamNotFound) && attempt == 0 {
			s.prov.forget(topic) // the stream went away: look it up (or create it) again
			continue
		}
		if err != nil {
			what := fmt.Sprintf("the consumer of group %q", s.group)
			if s.group == "" {
				what = "a private consumer"
			}
			return nil, fmt.Errorf("creating %s on stream %q: %w", what, t.stream, err)
		}
		s.mu.Lock()
		s.consumers[topic] = consumerRef{stream: t.stream, name: c.CachedInfo().Name, private: s.group == ""}
		s.mu.Unlock()
		return c, nil
	}
}

func (s *Subscription) consumerConfig(topic string, t target, window int) jetstream.ConsumerConfig {
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
// server's default), raised to window when lower, so that the server
// never holds a stream below its window. The setting bounds the group as
// a whole (every stream of every member); each stream is bounded by its
// own window on the client side (Stream never asks for more).
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

// Close implements adapters.Subscription: it closes the streams still
// open (their unsettled deliveries are returned at once), deletes the
// private consumers and closes the connection, waiting within ctx. It is
// idempotent.
func (s *Subscription) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.cancel()
		streams := make([]*Stream, 0, len(s.streams))
		for st := range s.streams {
			streams = append(streams, st)
		}
		s.mu.Unlock()
		for _, st := range streams {
			if cerr := st.Close(ctx); cerr != nil && err == nil {
				err = cerr
			}
		}
		if s.nc.IsConnected() {
			dctx, cancel := boundedContext(ctx, 2*time.Second)
			s.mu.Lock()
			refs := s.consumers
			s.mu.Unlock()
			for _, c := range refs {
				if c.private {
					_ = s.js.DeleteConsumer(dctx, c.stream, c.name)
				}
			}
			_ = s.nc.FlushWithContext(dctx)
			cancel()
		}
		s.watch.Closing()
		s.nc.Close()
		if s.onClose != nil {
			s.onClose()
		}
	})
	return err
}

// forget drops st from the open streams.
func (s *Subscription) forget(st *Stream) {
	s.mu.Lock()
	delete(s.streams, st)
	s.mu.Unlock()
}

// As implements adapters.Subscription: **nats.Conn,
// *jetstream.JetStream, and what the driver adds (**server.Server for
// embedded).
func (s *Subscription) As(target any) bool {
	switch t := target.(type) {
	case **nats.Conn:
		*t = s.nc
	case *jetstream.JetStream:
		*t = s.js
	default:
		return s.as != nil && s.as(target)
	}
	return true
}

// boundedContext is ctx, with at most d left when it has no deadline
// (nats.go's flush needs one).
func boundedContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
