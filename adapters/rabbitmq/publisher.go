package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

var _ adapters.ContextPublisher = (*publisher)(nil)

// publisher publishes on a few confirm-mode channels of one connection
// (which reconnects by itself). Unlike watermill-amqp's
// Publisher, which holds a channel and waits for each confirm before
// sending the next message, it sends a Publish call's messages and then
// waits for their confirms (at most window outstanding) without holding
// the channel, so concurrent Publish calls share channels and their
// confirms overlap. A call's messages go out on one channel, in order.
// See the package documentation for the figures.
type publisher struct {
	s        *settings
	cfg      wamqp.Config
	conn     *connection
	channels []*pubChannel
	next     atomic.Uint32

	mu          sync.Mutex // guards closed and wg.Add
	closed      bool
	stopWaiting chan struct{}  // closed by Close: waits for the broker end
	closing     chan struct{}  // closed by Close after closeWait: waits for confirms end
	wg          sync.WaitGroup // calls in progress and PublishAsync messages not done
	once        sync.Once

	slots     chan struct{}  // PublishAsync messages taken and not done (cap: window)
	listeners sync.WaitGroup // confirm listeners

	declared sync.Map     // topic -> struct{}: exchange declared
	maxSize  atomic.Int64 // the broker's max_message_size, once a refusal told it
}

// pubChannel is one slot of the pool: an AMQP channel, opened lazily and
// reopened after it or its connection closed.
type pubChannel struct {
	sem chan struct{} // a lock that can be waited for within a ctx
	oc  *openChannel
	// PublishAsync: messages sent on the channel, waiting for their
	// confirm (nil until the first; its listener starts with it), and
	// whether the listener stopped at Close. Set under the lock.
	queue   chan asyncMsg
	stopped bool
}

// openChannel is one opened AMQP channel and why it closed.
type openChannel struct {
	ch     *amqp.Channel
	closes chan *amqp.Error
	once   sync.Once
	why    *amqp.Error
	// nacked: the broker nacked a message on this channel. It is not
	// used again (see retire).
	nacked atomic.Bool
}

// retire takes oc out of use after a nack: the next publish opens a new
// channel, and oc is closed in the background (messages still awaiting
// their confirm on it are sent again). A RabbitMQ 3.10 channel that
// published to a quorum queue while the queue had no leader (its node
// was just killed) went on nacking every later message to that queue
// after a new leader was elected; a new channel works
// (TestRabbitMQClusterFailover).
func (oc *openChannel) retire() {
	if oc.nacked.CompareAndSwap(false, true) {
		go func() { _ = oc.ch.Close() }()
	}
}

// reason returns the error the channel closed with (nil for a clean
// close); call it once the channel is known to be closed.
func (oc *openChannel) reason() *amqp.Error {
	oc.once.Do(func() {
		t := time.NewTimer(closeTimeout)
		defer t.Stop()
		select {
		case oc.why = <-oc.closes:
		case <-t.C:
		}
	})
	return oc.why
}

// defaultPublishTimeout bounds a Publish (Watermill's call, without a
// context) while the broker is unreachable; PublishContext uses its ctx.
const defaultPublishTimeout = 30 * time.Second

func newPublisher(ctx context.Context, s *settings) (*publisher, error) {
	cfg := s.watermillConfig("")
	conn, err := dial(ctx, s)
	if err != nil {
		return nil, err
	}
	p := &publisher{s: s, cfg: cfg, conn: conn, stopWaiting: make(chan struct{}), closing: make(chan struct{}), slots: make(chan struct{}, s.window)}
	for range s.pool {
		p.channels = append(p.channels, &pubChannel{sem: make(chan struct{}, 1)})
	}
	return p, nil
}

// Publish is PublishContext bounded by defaultPublishTimeout; it also
// stops waiting for a message's confirm when that message's context ends.
func (p *publisher) Publish(topic string, msgs ...*message.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), defaultPublishTimeout)
	defer cancel()
	return p.PublishContext(ctx, topic, msgs...)
}

// PublishContext sends msgs to topic's exchange and, with confirms on
// (the default), returns nil only once the broker confirmed every one of
// them. Messages of one call keep their order. While the broker is
// unreachable it waits for the reconnect and sends again what was not
// confirmed, until ctx ends. It neither starts a goroutine nor changes
// msgs.
func (p *publisher) PublishContext(ctx context.Context, topic string, msgs ...*message.Message) error {
	if err := checkTopic(topic); err != nil {
		return opError(p.s.scheme, opPublish, topic, err)
	}
	if err := ctx.Err(); err != nil {
		return opError(p.s.scheme, opPublish, topic, err)
	}
	if !p.enter() {
		return opError(p.s.scheme, opPublish, topic, herald.ErrClosed)
	}
	defer p.wg.Done()

	items := make([]item, len(msgs))
	for i, msg := range msgs {
		pub, err := p.cfg.Marshaler.Marshal(msg)
		if err == nil {
			err = checkPublishing(pub, p.conn.maxFrame(), p.maxSize.Load())
		}
		if err != nil {
			return opError(p.s.scheme, opPublish, topic, fmt.Errorf("message %s: %w", msg.UUID, err))
		}
		items[i] = item{msg: msg, pub: pub}
	}
	if err := p.publish(ctx, topic, items); err != nil {
		return opError(p.s.scheme, opPublish, topic, err)
	}
	return nil
}

// item is one message of a call and whether the broker has it.
type item struct {
	msg  *message.Message
	pub  amqp.Publishing
	done bool
}

// retryable marks a failure after which the messages not yet confirmed
// may be sent again: the channel or connection was lost (connection
// true), or the broker closed the channel over a deleted exchange or
// another call's message.
type retryable struct {
	err        error
	connection bool
	// nack: the broker nacked the message; sent again at most
	// maxNackRetries times (see nackError).
	nack bool
}

// maxNackRetries bounds the resends of a nacked message: with the
// backoff (20 ms doubling) about 1.3 s. A quorum queue nacks while it has
// no leader (its node was killed; the election takes a fraction of a
// second, TestRabbitMQClusterFailover): the resend then succeeds. A nack
// that lasts (a queue at its length limit with overflow=reject-publish)
// is returned after the retries.
const maxNackRetries = 6

// nackError is the error of a message the broker nacked.
func nackError(id string) error {
	return &retryable{nack: true, err: fmt.Errorf("the broker refused message %s (a nack: it could not store it, e.g. a quorum queue without a leader, or a queue at its length limit with overflow=reject-publish)", id)}
}

func (r *retryable) Error() string { return r.err.Error() }

// asRetryable returns err's *retryable, or nil. (A helper, called only on
// errors: errors.As on a local variable would allocate it on every call.)
func asRetryable(err error) *retryable {
	var r *retryable
	if errors.As(err, &r) {
		return r
	}
	return nil
}
func (r *retryable) Unwrap() error { return r.err }

// maxChannelRetries bounds how often one call resends after the broker
// closed a channel (not the connection).
const maxChannelRetries = 3

// publish sends items, again after a lost channel or connection, until
// all are confirmed, an error that waiting cannot fix, or ctx ends.
func (p *publisher) publish(ctx context.Context, topic string, items []item) error {
	return p.onChannel(ctx, func(pc *pubChannel) error {
		if err := ctx.Err(); err != nil {
			return unreachable(ctx, errors.New("gave up before the broker confirmed"))
		}
		return p.attempt(ctx, pc, topic, items)
	})
}

// onChannel runs send on a channel of the pool, and again on the next one
// after a lost channel or connection (waiting for the connection, with
// backoff), until it succeeds, fails with an error that waiting cannot
// fix, or ctx ends.
func (p *publisher) onChannel(ctx context.Context, send func(*pubChannel) error) error {
	delay := 20 * time.Millisecond
	channelRetries, nackRetries := 0, 0
	for {
		if _, err := p.conn.wait(ctx, p.stopWaiting); err != nil {
			return err
		}
		err := send(p.channels[int(p.next.Add(1))%len(p.channels)])
		if err == nil {
			return nil
		}
		r := asRetryable(err)
		if r == nil {
			return err
		}
		switch {
		case r.nack:
			if nackRetries++; nackRetries > maxNackRetries {
				return r.err
			}
		case !r.connection:
			if channelRetries++; channelRetries > maxChannelRetries {
				return r.err
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			if r.nack {
				return r.err
			}
			return unreachable(ctx, r.err)
		case <-p.stopWaiting:
			t.Stop()
			return herald.ErrClosed
		}
		delay = min(2*delay, time.Second)
	}
}

// attempt publishes the items not yet done on pc's channel and waits for
// their confirms, keeping at most window of them outstanding.
func (p *publisher) attempt(ctx context.Context, pc *pubChannel, topic string, items []item) error {
	type pending struct {
		it *item
		dc *amqp.DeferredConfirmation
	}
	var waiting []pending
	var oc *openChannel // all of this attempt's messages go on one channel
	settle := func(err error) error {
		// The channel is gone: what it confirmed before is done.
		for _, w := range waiting {
			if isDone(w.dc) && w.dc.Acked() {
				w.it.done = true
			}
		}
		return err
	}
	for i := range items {
		it := &items[i]
		if it.done {
			continue
		}
		if len(waiting) == p.s.window {
			if err := p.confirmed(ctx, oc, topic, waiting[0].it, waiting[0].dc); err != nil {
				return settle(err)
			}
			waiting = waiting[1:]
		}
		var dc *amqp.DeferredConfirmation
		var err error
		if oc, dc, err = p.publishOne(ctx, pc, oc, topic, it); err != nil {
			return settle(err)
		}
		if dc == nil {
			it.done = true // confirm=false: sent is all we know
			continue
		}
		waiting = append(waiting, pending{it, dc})
	}
	for len(waiting) > 0 {
		if err := p.confirmed(ctx, oc, topic, waiting[0].it, waiting[0].dc); err != nil {
			return settle(err)
		}
		waiting = waiting[1:]
	}
	return nil
}

func isDone(dc *amqp.DeferredConfirmation) bool {
	select {
	case <-dc.Done():
		return true
	default:
		return false
	}
}

// publishOne sends one message on pc, (re)opening the channel and
// declaring the exchange first when needed. want is the channel the
// attempt's previous messages went on (nil for the first): if pc had to
// be reopened since, the attempt stops rather than reorder its messages.
func (p *publisher) publishOne(ctx context.Context, pc *pubChannel, want *openChannel, topic string, it *item) (*openChannel, *amqp.DeferredConfirmation, error) {
	if err := pc.lock(ctx, p.stopWaiting); err != nil {
		return nil, nil, err
	}
	defer pc.unlock()
	oc, err := p.ready(ctx, pc, topic)
	if err != nil {
		return nil, nil, err
	}
	if want != nil && oc != want {
		return nil, nil, &retryable{err: errors.New("the channel closed during the call"), connection: true}
	}
	dc, err := oc.ch.PublishWithDeferredConfirm(topic, "", false, false, it.pub)
	if err != nil {
		return nil, nil, p.channelError(oc, fmt.Errorf("message %s: %w", it.msg.UUID, err), len(it.pub.Body))
	}
	return oc, dc, nil
}

// lock takes pc, waiting at most until ctx ends or Close.
func (pc *pubChannel) lock(ctx context.Context, abort <-chan struct{}) error {
	select {
	case pc.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return unreachable(ctx, errors.New("all publish channels busy waiting for the broker"))
	case <-abort:
		return herald.ErrClosed
	}
}

func (pc *pubChannel) unlock() { <-pc.sem }

// ready returns pc's channel, (re)opened when needed, with topic's
// exchange declared; pc is locked. The broker's answers are awaited in a
// goroutine (only when something must be opened or declared), so that
// ctx and Close interrupt the wait; a channel whose answer did not come
// is dropped and closed once it comes.
func (p *publisher) ready(ctx context.Context, pc *pubChannel, topic string) (*openChannel, error) {
	oc := pc.oc
	if oc != nil && (oc.ch.IsClosed() || oc.nacked.Load()) {
		oc, pc.oc = nil, nil
	}
	_, declared := p.declared.Load(topic)
	if oc != nil && declared {
		return oc, nil
	}
	var conn *amqp.Connection
	if oc == nil {
		var err error
		if conn, err = p.conn.get(); err != nil {
			return nil, &retryable{err: err, connection: true}
		}
	}
	type result struct {
		oc  *openChannel
		err error
	}
	res := make(chan result, 1)
	go func() {
		o := oc
		if o == nil {
			var err error
			if o, err = p.openOn(conn); err != nil {
				res <- result{nil, err}
				return
			}
		}
		if !declared {
			if err := declareExchange(o.ch, p.cfg, topic); err != nil {
				res <- result{o, p.channelError(o, fmt.Errorf("declare exchange %q: %w", topic, err), -1)}
				return
			}
		}
		res <- result{o, nil}
	}()
	var abortErr error
	select {
	case r := <-res:
		if r.oc != nil && !r.oc.ch.IsClosed() {
			pc.oc = r.oc
		}
		if r.err != nil {
			return nil, r.err
		}
		p.declared.Store(topic, struct{}{})
		return r.oc, nil
	case <-ctx.Done():
		abortErr = unreachable(ctx, errors.New("no answer from the broker while opening a channel"))
	case <-p.stopWaiting:
		abortErr = herald.ErrClosed
	}
	pc.oc = nil
	go func() {
		if r := <-res; r.oc != nil {
			_ = r.oc.ch.Close()
		}
	}()
	return nil, abortErr
}

// openOn opens a channel on conn, in confirm mode when confirms are on.
func (p *publisher) openOn(conn *amqp.Connection) (*openChannel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, &retryable{err: fmt.Errorf("open channel: %w", err), connection: true}
	}
	oc := &openChannel{ch: ch, closes: ch.NotifyClose(make(chan *amqp.Error, 1))}
	if p.s.confirm {
		if err := ch.Confirm(false); err != nil {
			_ = ch.Close()
			return nil, &retryable{err: fmt.Errorf("enable publisher confirms: %w", err), connection: true}
		}
	}
	return oc, nil
}

// confirmed waits for dc, it's confirm on oc.
func (p *publisher) confirmed(ctx context.Context, oc *openChannel, topic string, it *item, dc *amqp.DeferredConfirmation) error {
	select {
	case <-dc.Done():
	case <-ctx.Done():
		return p.noConfirm(ctx, it)
	case <-it.msg.Context().Done():
		return p.noConfirm(it.msg.Context(), it)
	case <-p.closing:
		return fmt.Errorf("message %s unconfirmed: %w", it.msg.UUID, herald.ErrClosed)
	}
	if dc.Acked() {
		it.done = true
		return nil
	}
	if !oc.ch.IsClosed() {
		oc.retire()
		return nackError(it.msg.UUID)
	}
	return p.channelError(oc, fmt.Errorf("message %s unconfirmed", it.msg.UUID), len(it.pub.Body))
}

// noConfirm is the error when ctx ended before a confirm came: from the
// client's side the broker is unreachable, whether the connection is
// known lost or the broker did not answer.
func (p *publisher) noConfirm(ctx context.Context, it *item) error {
	cause := errors.New("no confirm from the broker")
	if _, err := p.conn.get(); err != nil {
		cause = err
	}
	return fmt.Errorf("message %s unconfirmed: %w", it.msg.UUID, unreachable(ctx, cause))
}

// channelError classifies what closed oc while it carried a message of
// size bytes (-1 while declaring): a lost connection or a message someone
// else made the broker refuse can be resent; a refusal of this message or
// of the topic cannot.
func (p *publisher) channelError(oc *openChannel, err error, size int) error {
	if !oc.ch.IsClosed() {
		// The socket failed before the client noticed the loss.
		return &retryable{err: err, connection: true}
	}
	return p.classify(oc.reason(), err, size)
}

// classify is channelError's verdict for the error e the channel closed
// with.
func (p *publisher) classify(e *amqp.Error, err error, size int) error {
	if isConnectionError(e) {
		if e == nil {
			return &retryable{err: fmt.Errorf("%w: the channel closed", err), connection: true}
		}
		return &retryable{err: fmt.Errorf("%w: %w", err, e), connection: true}
	}
	switch {
	case e.Code == amqp.NotFound:
		// The exchange was deleted: declare it again.
		p.declared.Range(func(k, _ any) bool { p.declared.Delete(k); return true })
		return &retryable{err: fmt.Errorf("%w: %w", err, e)}
	case e.Code == amqp.AccessRefused:
		return fmt.Errorf("%w: %w", err, accessRefused(p.s, "publish (declare or write to the exchange)", e))
	}
	if _, limit, ok := refusedSize(e); ok {
		p.maxSize.Store(limit)
		if int64(size) > limit {
			return fmt.Errorf("%w: %w: %w", err, sizeError(int64(size), limit), e)
		}
		// Another message on the channel was too large.
		return &retryable{err: fmt.Errorf("%w: %w", err, e)}
	}
	return fmt.Errorf("%w: the broker closed the channel: %w", err, e)
}

// Close stops new publishes, ends those waiting for the broker, waits up
// to closeWait for those in flight to get their confirms (then fails them
// with ErrClosed) and closes the connection. It is idempotent.
func (p *publisher) Close() error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.stopWaiting)
		done := make(chan struct{})
		go func() { p.wg.Wait(); close(done) }()
		t := time.NewTimer(closeWait)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
		close(p.closing)
		<-done
		p.listeners.Wait()
		// Closing the connection closes its channels, without waiting for
		// each channel's close-ok from a broker that may not answer.
		_ = p.conn.Close()
	})
	return nil
}

// closeWait bounds how long Close lets in-flight publishes wait for their
// confirms.
const closeWait = 5 * time.Second

// As implements the escape hatch; see the package documentation.
func (p *publisher) As(target any) bool {
	return asConnection(p.conn, p.cfg, target)
}
