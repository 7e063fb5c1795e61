package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/backoff"
)

// topic is the publish side: a few confirm-mode channels ("pool") on one
// connection, which redials by itself. Send writes a message on the
// channel its (topic, key) hashes to and returns; that channel's confirm
// listener (one goroutine per open channel) calls done once the broker
// confirmed it (deferred confirms: any number in flight per channel, so
// the facade's window is the only limit). One (topic, key) always goes on
// the same channel, so messages sent in one order reach the broker in
// that order; confirms, and so done calls, come in that order too.
type topic struct {
	s     *settings
	conn  *connection
	chans []*pubChan

	declared sync.Map     // exchange name -> struct{}: declared on this connection's broker
	maxSize  atomic.Int64 // the broker's max_message_size, once a refusal told it

	mu        sync.Mutex // guards closed and taken.Add
	closed    bool
	taken     sync.WaitGroup // messages taken whose done was not called yet
	inflight  atomic.Int64   // the same count, for Close's error
	closing   chan struct{}  // closed by Close: Send refuses, its waits end
	abandon   chan struct{}  // closed when Close stops waiting: the rest fails with KindClosed
	stop      chan struct{}  // closed when nothing is in flight: idle listeners return
	listeners sync.WaitGroup
	closeOnce sync.Once
}

var _ adapters.Topic = (*topic)(nil)

// pubChan is one slot of the pool: the channel currently open for it,
// opened on demand and replaced once it closed or nacked. Its lock (a
// 1-buffered channel, so that waiting for it honours a context) keeps
// the slot's writes in order.
type pubChan struct {
	sem chan struct{}
	cur *confirmChan // nil until the first send, or after a loss
}

// outgoing is one message taken by Send, until done is called.
type outgoing struct {
	ctx   context.Context // Send's: the message's deadline
	topic string
	m     *herald.Message
	pub   amqp.Publishing
	done  func(error)
	slot  *pubChan
	// exchange and key are where it is written: the topic's exchange, or
	// for a delayed message the top tier's with its delay routing key.
	exchange, key string
	delayed       bool
	dc            *amqp.DeferredConfirmation // nil without confirms
	nacks         int                        // resends after a nack
}

func openTopic(ctx context.Context, s *settings, env adapters.Env) (*topic, error) {
	conn, err := dial(ctx, s, logger(env))
	if err != nil {
		return nil, err
	}
	t := &topic{
		s:       s,
		conn:    conn,
		closing: make(chan struct{}),
		abandon: make(chan struct{}),
		stop:    make(chan struct{}),
	}
	for range s.pool {
		t.chans = append(t.chans, &pubChan{sem: make(chan struct{}, 1)})
	}
	return t, nil
}

// Send implements adapters.Topic. It waits, within ctx, for the
// connection, the channel and its lock, then writes m and returns; what
// was not written when ctx ended is not taken (KindUnreachable). A
// message the broker would refuse by closing the connection (a header
// name or ID over 255 bytes, headers over frame_max) or that is over a
// max_message_size the broker told before is refused at once.
//
// With o.At it goes through the delay tiers (see delay.go and "Delayed
// delivery" in the package documentation): m is written to the top
// tier's exchange with a routing key that encodes its delay, rounded up
// to the second, and the topic; done gets its publisher confirm, once a
// tier's quorum queue stored it. The first delayed message on a
// connection declares the tiers, and the first to a topic binds the
// topic's exchange below them. o.Properties are the timestamp,
// expiration and type properties (see publishing); an expiration with a
// delay is refused.
func (t *topic) Send(ctx context.Context, name string, m *herald.Message, o adapters.SendOptions, done func(error)) error {
	at := o.At
	if err := checkTopic(name); err != nil {
		return opError(t.s.scheme, opPublish, name, withKind(herald.KindInvalid, err))
	}
	exchange, key := name, ""
	if !at.IsZero() {
		d := time.Until(at)
		switch err := checkDelayTopic(name); {
		case !t.s.confirm:
			return opError(t.s.scheme, opPublish, name, withKind(herald.KindInvalid, errNoConfirms))
		case err != nil:
			return opError(t.s.scheme, opPublish, name, withKind(herald.KindInvalid, err))
		case d > delayMax:
			return opError(t.s.scheme, opPublish, name, withKind(herald.KindInvalid, fmt.Errorf("delay %v is longer than the delay tiers' maximum %v", d.Round(time.Second), delayMax)))
		}
		exchange, key = tierExchange(delayLevels-1), delayRoutingKey(delayUnits(d), name)
	}
	pub, err := publishing(m, o.Properties)
	if err == nil && !at.IsZero() && pub.Expiration != "" {
		err = withKind(herald.KindInvalid, errors.New("herald.Properties.TTL cannot be combined with a delay: the delay tiers hold a message by TTL, and its own would cut the delay short"))
	}
	if err == nil {
		err = checkPublishing(pub, t.conn.maxFrame(), t.maxSize.Load())
	}
	if err != nil {
		return opError(t.s.scheme, opPublish, name, fmt.Errorf("message %s: %w", m.UUID, err))
	}
	if ctx.Err() != nil {
		return opError(t.s.scheme, opPublish, name, unreachable(ctx, nil))
	}
	if !t.enter() {
		return opError(t.s.scheme, opPublish, name, errClosed)
	}
	p := &outgoing{ctx: ctx, topic: name, m: m, pub: pub, done: done, slot: t.chans[slot(name, herald.Key(m), len(t.chans))],
		exchange: exchange, key: key, delayed: !at.IsZero()}
	if err := t.send(p, t.closing); err != nil {
		t.left()
		return opError(t.s.scheme, opPublish, name, err)
	}
	return nil
}

// slot hashes (topic, key) onto one of n channels (FNV-1a).
func slot(topic, key string, n int) int {
	if n == 1 {
		return 0
	}
	h := uint32(2166136261)
	for i := 0; i < len(topic); i++ {
		h = (h ^ uint32(topic[i])) * 16777619
	}
	h *= 16777619 // a 0 byte between the two
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return int(h % uint32(n))
}

// enter counts a message taken; false once closed.
func (t *topic) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.taken.Add(1)
	t.inflight.Add(1)
	return true
}

// left uncounts a message taken.
func (t *topic) left() {
	t.inflight.Add(-1)
	t.taken.Done()
}

// finish calls p's done with err (nil: confirmed) and uncounts it.
func (t *topic) finish(p *outgoing, err error) {
	if err != nil {
		err = opError(t.s.scheme, opPublish, p.topic, err)
	}
	if p.done != nil {
		p.done(err)
	}
	t.left()
}

// again marks a failure before the message was written (the channel or
// connection closed first): it is sent again on a new channel.
type again struct{ err error }

func (a *again) Error() string { return a.err.Error() }
func (a *again) Unwrap() error { return a.err }

// send writes p on its slot's channel, again after a channel lost before
// the write (waiting for the reconnect), until it is written, an error
// that waiting cannot fix, p's ctx ends or abort is closed.
func (t *topic) send(p *outgoing, abort <-chan struct{}) error {
	retry := backoff.Policy{Base: 20 * time.Millisecond, Limit: time.Second}.Start()
	for {
		err := t.write(p, abort)
		var a *again
		if err == nil || !errors.As(err, &a) {
			return err
		}
		if !backoff.Wait(p.ctx, retry.Next(), abort) {
			if p.ctx.Err() != nil {
				return unreachable(p.ctx, a.err)
			}
			return errClosed
		}
	}
}

// write publishes p on its slot's channel and queues it for that
// channel's confirm listener.
func (t *topic) write(p *outgoing, abort <-chan struct{}) error {
	pc := p.slot
	select {
	case pc.sem <- struct{}{}:
	default:
		select {
		case pc.sem <- struct{}{}:
		case <-p.ctx.Done():
			return unreachable(p.ctx, errors.New("waiting for the publish channel (held by a publish waiting for the broker)"))
		case <-abort:
			return errClosed
		}
	}
	defer func() { <-pc.sem }()
	c, err := t.ready(p.ctx, pc, p.topic, p.delayed, abort)
	if err != nil {
		return err
	}
	dc, err := c.ch.PublishWithDeferredConfirm(p.exchange, p.key, false, false, p.pub)
	if err != nil {
		if errors.Is(err, amqp.ErrFieldType) {
			return withKind(herald.KindInvalid, fmt.Errorf("message %s: %w", p.m.UUID, err))
		}
		// Not written, or cut off: a partial message is never stored.
		return &again{fmt.Errorf("message %s: %w", p.m.UUID, err)}
	}
	p.dc = dc
	c.push(p)
	return nil
}

// ready returns pc's open channel (pc is locked), opening it when needed
// (waiting for the connection within ctx) and declaring topic's exchange
// first, and for a delayed message the delay tiers and topic's binding
// below them. The broker's answers are awaited in a goroutine so that ctx and
// abort end the wait; a channel that answers later is closed.
func (t *topic) ready(ctx context.Context, pc *pubChan, topic string, delayed bool, abort <-chan struct{}) (*confirmChan, error) {
	c := pc.cur
	if c != nil && (c.ch.IsClosed() || c.nacked.Load()) {
		c.retire()
		c, pc.cur = nil, nil
	}
	_, declared := t.declared.Load(topic)
	tiers, bound := true, true
	if delayed {
		_, tiers = t.declared.Load(delayDeliver)
		_, bound = t.declared.Load(delayDeliver + " " + topic)
	}
	if c != nil && declared && tiers && bound {
		return c, nil
	}
	var conn *amqp.Connection
	if c == nil {
		var err error
		if conn, err = t.conn.wait(ctx, abort); err != nil {
			return nil, err
		}
	}
	type result struct {
		ch  *amqp.Channel
		err error
	}
	res := make(chan result, 1)
	go func() {
		var ch *amqp.Channel
		if c != nil {
			ch = c.ch
		} else {
			var err error
			if ch, err = t.openOn(conn); err != nil {
				res <- result{nil, err}
				return
			}
		}
		err := error(nil)
		if !declared {
			if err = declareExchange(ch, topic); err != nil {
				err = fmt.Errorf("declare exchange %q: %w", topic, err)
			}
		}
		if err == nil && !tiers {
			err = declareTiers(ch)
		}
		if err == nil && !bound {
			err = bindDelivery(ch, topic)
		}
		if err != nil {
			if c == nil {
				_ = ch.Close()
			}
			res <- result{nil, t.declareError(topic, err)}
			return
		}
		res <- result{ch, nil}
	}()
	var abortErr error
	select {
	case r := <-res:
		if r.err != nil {
			return nil, r.err
		}
		t.declared.Store(topic, struct{}{})
		if delayed {
			t.declared.Store(delayDeliver, struct{}{})
			t.declared.Store(delayDeliver+" "+topic, struct{}{})
		}
		if c == nil {
			c = t.listen(pc, r.ch)
			pc.cur = c
		}
		return c, nil
	case <-ctx.Done():
		abortErr = unreachable(ctx, errors.New("no answer from the broker while opening a channel"))
	case <-abort:
		abortErr = errClosed
	}
	if c != nil {
		// A declaration left unanswered: the channel is suspect.
		c.retire()
		pc.cur = nil
	}
	go func() {
		if r := <-res; r.ch != nil && c == nil {
			_ = r.ch.Close()
		}
	}()
	return nil, abortErr
}

// openOn opens a channel on conn, in confirm mode when confirms are on.
func (t *topic) openOn(conn *amqp.Connection) (*amqp.Channel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, &again{fmt.Errorf("open channel: %w", err)}
	}
	if t.s.confirm {
		if err := ch.Confirm(false); err != nil {
			_ = ch.Close()
			return nil, &again{fmt.Errorf("enable publisher confirms: %w", err)}
		}
	}
	return ch, nil
}

// declareError classifies a failed declaration (the topic's exchange,
// the delay tiers, a binding).
func (t *topic) declareError(topic string, err error) error {
	var e *amqp.Error
	if !errors.As(err, &e) || isConnectionError(e) {
		return &again{err}
	}
	switch e.Code {
	case amqp.AccessRefused:
		return accessRefused(t.s, "publish (declare or write to the exchange)", err)
	case amqp.PreconditionFailed:
		// An exchange of that name exists with another type.
		return withKind(herald.KindInvalid, err)
	}
	return err
}

// Close implements adapters.Topic: it stops taking messages, waits
// within ctx for the confirms of those taken (nacked ones are still sent
// again), then fails the rest with KindClosed and closes the connection.
// The first call reports how many it failed; later calls return nil.
func (t *topic) Close(ctx context.Context) error {
	var err error
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		close(t.closing)
		drained := make(chan struct{})
		go func() { t.taken.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-ctx.Done():
			if n := t.inflight.Load(); n > 0 {
				err = opError(t.s.scheme, opClose, "", fmt.Errorf("%d messages unconfirmed when the wait ended, failed with %w: %w", n, herald.ErrClosed, context.Cause(ctx)))
			}
		}
		close(t.abandon)
		<-drained
		close(t.stop)
		t.listeners.Wait()
		_ = t.conn.Close()
	})
	return err
}

// As implements adapters.Topic: *amqp091.Connection (see the package
// documentation).
func (t *topic) As(target any) bool { return asConnection(t.conn, target) }

// asConnection serves the escape hatch: **amqp091.Connection is the
// current connection, false while reconnecting or after Close. It never
// dials.
func asConnection(conn *connection, target any) bool {
	t, ok := target.(**amqp.Connection)
	if !ok {
		return false
	}
	c, err := conn.get()
	if err != nil {
		return false
	}
	*t = c
	return true
}
