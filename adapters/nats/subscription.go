package nats

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx"
)

// coreSubscription is the core NATS consume side. Its streams join one
// queue group (the Herald group, or one private to this subscription),
// so they compete for messages.
type coreSubscription struct {
	nc     *nats.Conn
	queue  string
	log    *slog.Logger
	watch  *natsx.ConnWatch
	stop   context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	streams map[*coreStream]struct{}
	once    sync.Once
}

var _ adapters.Subscription = (*coreSubscription)(nil)

func newCoreSubscription(nc *nats.Conn, group string, env adapters.Env) *coreSubscription {
	queue := group
	if queue == "" {
		queue = "herald_" + nuid.Next()
	}
	s := &coreSubscription{nc: nc, queue: queue, log: env.Logger, streams: map[*coreStream]struct{}{}}
	s.stop, s.cancel = context.WithCancel(context.Background())
	s.watch = natsx.NewConnWatch(nc, env.Logger, Scheme, "subscription")
	return s
}

func (s *coreSubscription) fail(op, topic string, k herald.Kind, err error) error {
	return natsx.Error(Scheme, op, topic, k, err)
}

// Prepare implements adapters.Subscription: core NATS keeps nothing for
// a group, so there is nothing to create.
func (s *coreSubscription) Prepare(_ context.Context, topic string) error {
	if err := natsx.CheckTopic(topic); err != nil {
		return s.fail("prepare", topic, herald.KindInvalid, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.fail("prepare", topic, herald.KindClosed, nil)
	}
	return nil
}

// Open implements adapters.Subscription: it joins the topic's queue
// group and returns once the server registered the subscription (a
// flush), within ctx.
func (s *coreSubscription) Open(ctx context.Context, topic string, o adapters.StreamOptions) (adapters.Stream, error) {
	const op = "subscribe to"
	if err := natsx.CheckTopic(topic); err != nil {
		return nil, s.fail(op, topic, herald.KindInvalid, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, s.fail(op, topic, herald.KindClosed, nil)
	}
	s.mu.Unlock()
	sub, err := s.nc.QueueSubscribeSync(topic, s.queue)
	if err == nil {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		stop := context.AfterFunc(s.stop, cancel)
		err = s.nc.FlushWithContext(fctx)
		stop()
		cancel()
	}
	if err != nil {
		if sub != nil {
			_ = sub.Unsubscribe()
		}
		k := natsx.Kind(err)
		switch {
		case s.stop.Err() != nil:
			k = herald.KindClosed
		case ctx.Err() != nil || !s.nc.IsConnected():
			k = herald.KindUnreachable
		}
		return nil, s.fail(op, topic, k, err)
	}
	// What the window does not hold waits in nats.go's buffer; beyond its
	// limits messages are dropped (at most once).
	st := newCoreStream(s, sub, topic, o)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = st.Close(ctx)
		return nil, s.fail(op, topic, herald.KindClosed, nil)
	}
	s.streams[st] = struct{}{}
	s.mu.Unlock()
	return st, nil
}

// Close implements adapters.Subscription: it ends every stream and
// closes the connection. It is idempotent.
func (s *coreSubscription) Close(ctx context.Context) error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.cancel()
		streams := make([]*coreStream, 0, len(s.streams))
		for st := range s.streams {
			streams = append(streams, st)
		}
		s.mu.Unlock()
		for _, st := range streams {
			_ = st.Close(ctx)
		}
		s.watch.Closing()
		s.nc.Close()
	})
	return nil
}

func (s *coreSubscription) forget(st *coreStream) {
	s.mu.Lock()
	delete(s.streams, st)
	s.mu.Unlock()
}

// As implements adapters.Subscription: **nats.Conn.
func (s *coreSubscription) As(target any) bool {
	if p, ok := target.(**nats.Conn); ok {
		*p = s.nc
		return true
	}
	return false
}

// lostError is what a core stream reports while its connection is down.
func lostError(topic string, cause error) error {
	return natsx.Error(Scheme, "subscribe to", topic, herald.KindUnreachable, fmt.Errorf("%w: %w (messages published meanwhile do not reach it: core NATS keeps nothing)", herald.ErrSubscriptionLost, cause))
}
