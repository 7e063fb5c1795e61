package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// subscription consumes over one connection (which redials by itself).
// Each Open is one AMQP consumer on its own channel; streams of one topic
// consume the same queue and so compete for its messages.
type subscription struct {
	s         *settings
	conn      *connection
	log       *slog.Logger
	privateID string // names the private queues (no group)

	mu      sync.Mutex // guards closed, wg.Add, streams and waiting
	closed  bool
	streams map[*stream]struct{}
	waiting int           // consume calls waiting for the broker (for tests)
	closing chan struct{} // closed by Close: interrupts Open and Prepare
	wg      sync.WaitGroup
	once    sync.Once
}

var _ adapters.Subscription = (*subscription)(nil)

func openSubscription(ctx context.Context, s *settings, env adapters.Env) (*subscription, error) {
	log := logger(env)
	conn, err := dial(ctx, s, log)
	if err != nil {
		return nil, err
	}
	return &subscription{
		s:         s,
		conn:      conn,
		log:       log,
		privateID: strings.ToLower(herald.NewID()),
		streams:   map[*stream]struct{}{},
		closing:   make(chan struct{}),
	}, nil
}

// logger is env's logger, or one that discards.
func logger(env adapters.Env) *slog.Logger {
	if env.Logger != nil {
		return env.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// queue is the queue this subscription consumes topic from.
func (sub *subscription) queue(topic string) queueSpec {
	return queueFor(sub.s, topic, sub.privateID)
}

// enter registers a call that Close waits for; false once closed.
func (sub *subscription) enter() bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.closed {
		return false
	}
	sub.wg.Add(1)
	return true
}

// Prepare implements adapters.Subscription: it declares topic's exchange
// and the group's durable queue and binds them, so that the queue keeps
// what is published from now on. Without a group it does nothing (a
// private queue lives with its consumer).
func (sub *subscription) Prepare(ctx context.Context, topic string) error {
	if err := checkTopic(topic); err != nil {
		return opError(sub.s.scheme, opPrepare, topic, withKind(herald.KindInvalid, err))
	}
	if !sub.enter() {
		return opError(sub.s.scheme, opPrepare, topic, errClosed)
	}
	defer sub.wg.Done()
	if sub.s.group == "" {
		return nil
	}
	c, err := sub.consume(ctx, topic, false, 1)
	if err != nil {
		return opError(sub.s.scheme, opPrepare, topic, err)
	}
	c.close()
	return nil
}

// Open implements adapters.Subscription: it declares and binds the queue
// and registers a consumer with prefetch = o.Window (at most 65535)
// before it returns, so a message published after it returned is
// delivered.
func (sub *subscription) Open(ctx context.Context, topic string, o adapters.StreamOptions) (adapters.Stream, error) {
	if err := checkTopic(topic); err != nil {
		return nil, opError(sub.s.scheme, opSubscribe, topic, withKind(herald.KindInvalid, err))
	}
	if !sub.enter() {
		return nil, opError(sub.s.scheme, opSubscribe, topic, errClosed)
	}
	prefetch := min(max(o.Window, 1), maxPrefetch)
	c, err := sub.consume(ctx, topic, true, prefetch)
	if err != nil {
		sub.wg.Done()
		return nil, opError(sub.s.scheme, opSubscribe, topic, err)
	}
	st := newStream(sub, topic, c, prefetch, o.Status)
	sub.mu.Lock()
	closed := sub.closed
	if !closed {
		sub.streams[st] = struct{}{}
	}
	sub.mu.Unlock()
	if closed { // Close came while the consumer was being registered
		_ = st.Close(ctx)
		return nil, opError(sub.s.scheme, opSubscribe, topic, errClosed)
	}
	return st, nil // run holds the wg count until it returns
}

// forget drops a closed stream.
func (sub *subscription) forget(st *stream) {
	sub.mu.Lock()
	delete(sub.streams, st)
	sub.mu.Unlock()
}

// consumer is one AMQP channel with, when registered, a consumer on it.
type consumer struct {
	ch         *amqp.Channel
	queue      string
	deliveries <-chan amqp.Delivery
	closes     chan *amqp.Error
	cancels    chan string
}

// consume opens a channel, declares and binds the queue and, when
// register is set, registers a consumer on it. The broker's answers are
// awaited in a goroutine so that ctx and Close interrupt the wait; a
// setup that completes after that is undone.
func (sub *subscription) consume(ctx context.Context, topic string, register bool, prefetch int) (*consumer, error) {
	conn, err := sub.conn.get()
	if err != nil {
		return nil, err
	}
	type result struct {
		c   *consumer
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := sub.setup(conn, topic, register, prefetch)
		res <- result{c, err}
	}()
	sub.addWaiting(1)
	defer sub.addWaiting(-1)
	select {
	case r := <-res:
		return r.c, r.err
	case <-ctx.Done():
	case <-sub.closing:
	}
	go func() {
		if r := <-res; r.c != nil {
			r.c.close()
		}
	}()
	select {
	case <-sub.closing:
		return nil, errClosed
	default:
		return nil, unreachable(ctx, errors.New("no answer from the broker while subscribing"))
	}
}

func (sub *subscription) addWaiting(n int) {
	sub.mu.Lock()
	sub.waiting += n
	sub.mu.Unlock()
}

// setup does consume's work on conn, waiting for each answer.
func (sub *subscription) setup(conn *amqp.Connection, topic string, register bool, prefetch int) (*consumer, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, withKind(herald.KindUnreachable, fmt.Errorf("open channel: %w", err))
	}
	q := sub.queue(topic)
	c := &consumer{
		ch:      ch,
		queue:   q.name,
		closes:  ch.NotifyClose(make(chan *amqp.Error, 1)),
		cancels: ch.NotifyCancel(make(chan string, 1)),
	}
	if err := ch.Qos(prefetch, 0, false); err != nil {
		c.close()
		return nil, sub.brokerError(fmt.Errorf("set prefetch: %w", err))
	}
	if err := declareQueue(ch, topic, q); err != nil {
		c.close()
		return nil, sub.brokerError(err)
	}
	restoreDelayBinding(conn, topic)
	if !register {
		return c, nil
	}
	if c.deliveries, err = ch.Consume(q.name, "", false, false, false, false, nil); err != nil {
		c.close()
		return nil, sub.brokerError(fmt.Errorf("consume from queue %q: %w", q.name, err))
	}
	return c, nil
}

// brokerError gives a failed setup step its kind: a refused permission
// (KindDenied, naming the likely cause), a queue declared before with
// other arguments (KindInvalid), a lost connection (KindUnreachable).
func (sub *subscription) brokerError(err error) error {
	var e *amqp.Error
	switch {
	case !errors.As(err, &e):
		return withKind(herald.KindUnreachable, err)
	case e.Code == amqp.AccessRefused:
		return accessRefused(sub.s, "subscribe (declare, bind or read the queue)", err)
	case e.Code == amqp.PreconditionFailed:
		return withKind(herald.KindInvalid, fmt.Errorf("%w (a queue of this name exists with other arguments: is queue_type the same for every subscriber of the group?)", err))
	case isConnectionError(e):
		return withKind(herald.KindUnreachable, err)
	}
	return err
}

// close closes the channel: the broker requeues what was not acked. It
// waits for the broker's answer at most closeTimeout (a broker behind a
// black hole never answers; closing the connection ends the channel).
func (c *consumer) close() {
	done := make(chan struct{})
	go func() {
		_ = c.ch.Close()
		close(done)
	}()
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// Close implements adapters.Subscription: it closes the streams still
// open (each sends the settlements made before), within ctx, and the
// connection. It is idempotent.
func (sub *subscription) Close(ctx context.Context) error {
	var err error
	sub.once.Do(func() {
		sub.mu.Lock()
		sub.closed = true
		streams := make([]*stream, 0, len(sub.streams))
		for st := range sub.streams {
			streams = append(streams, st)
		}
		sub.mu.Unlock()
		close(sub.closing)
		for _, st := range streams {
			if cerr := st.Close(ctx); cerr != nil && err == nil {
				err = cerr
			}
		}
		done := make(chan struct{})
		go func() { sub.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
		}
		_ = sub.conn.Close()
	})
	return err
}

// As implements adapters.Subscription: *amqp091.Connection (see the
// package documentation).
func (sub *subscription) As(target any) bool { return asConnection(sub.conn, target) }
