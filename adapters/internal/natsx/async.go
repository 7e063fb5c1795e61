package natsx

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

var _ adapters.AsyncPublisher = (*Publisher)(nil)

// pendingPub is one message taken by PublishAsync, in the window's ring.
type pendingPub struct {
	topic    string
	nm       *nats.Msg // as sent; the key of its PubAck callbacks
	deadline time.Time
	done     func(error)
	state    uint8 // pubPending, pubOK or pubFailed
	err      error // pubFailed: why
}

const (
	pubPending uint8 = iota
	pubOK
	pubFailed
)

// asyncWindow holds the messages PublishAsync took, in order, and their
// results as nats.go's PubAck callbacks report them (no future channels
// per message).
//
// It also routes the results of PublishContext's messages to their
// callers (waiters).
type asyncWindow struct {
	mu      sync.Mutex
	ring    []pendingPub
	head    int
	n       int
	byMsg   map[*nats.Msg]int // ring index of the message sent as that *nats.Msg
	notify  chan struct{}     // a result arrived (capacity 1)
	waiters map[*nats.Msg]syncWaiter
}

// syncWaiter is where the result of a PublishContext message goes: its
// caller's channel (with room for every result) and its index.
type syncWaiter struct {
	ch chan<- pubResult
	i  int
}

// pubResult is the outcome of the i-th message of a PublishContext round.
type pubResult struct {
	i   int
	err error
}

func newAsyncWindow(size int) *asyncWindow {
	return &asyncWindow{
		ring: make([]pendingPub, size), byMsg: make(map[*nats.Msg]int, size), notify: make(chan struct{}, 1),
		waiters: make(map[*nats.Msg]syncWaiter),
	}
}

// wait routes the results of msgs to ch (capacity len(msgs)).
func (w *asyncWindow) wait(msgs []*nats.Msg, ch chan<- pubResult) {
	w.mu.Lock()
	for i, m := range msgs {
		w.waiters[m] = syncWaiter{ch: ch, i: i}
	}
	w.mu.Unlock()
}

// unwait stops routing the results of msgs.
func (w *asyncWindow) unwait(msgs []*nats.Msg) {
	w.mu.Lock()
	for _, m := range msgs {
		delete(w.waiters, m)
	}
	w.mu.Unlock()
}

// push appends e (the caller holds a slot, so there is room).
func (w *asyncWindow) push(e pendingPub) {
	w.mu.Lock()
	i := (w.head + w.n) % len(w.ring)
	w.n++
	w.ring[i] = e
	w.byMsg[e.nm] = i
	w.mu.Unlock()
}

// result records the outcome of the send of m; results for messages not
// in the window (PublishContext's) are ignored.
func (w *asyncWindow) result(m *nats.Msg, err error) {
	w.mu.Lock()
	if sw, ok := w.waiters[m]; ok {
		delete(w.waiters, m)
		sw.ch <- pubResult{i: sw.i, err: err} // never blocks: room for every result
		w.mu.Unlock()
		return
	}
	i, ok := w.byMsg[m]
	if ok {
		delete(w.byMsg, m)
		if err == nil {
			w.ring[i].state = pubOK
		} else {
			w.ring[i].state, w.ring[i].err = pubFailed, err
		}
	}
	w.mu.Unlock()
	if ok {
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
}

// onAck and onErr are nats.go's PubAck callbacks (they may run with
// nats.go's publisher lock held: they only take the window's lock).
func (p *Publisher) onAck(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) {
	p.win.result(m, nil)
}

func (p *Publisher) onErr(_ jetstream.JetStream, m *nats.Msg, err error) {
	if err == nil {
		err = errors.New("publish failed without a cause")
	}
	p.win.result(m, err)
}

// PublishAsync implements adapters.AsyncPublisher on JetStream's
// asynchronous publish. At most MaxPending messages are unacknowledged
// (the call blocks while the window is full, until ctx ends); one
// goroutine per publisher waits for the PubAcks in publish order and calls
// done.
//
// A message whose PubAck does not come (nats.go fails every pending
// future with ErrDisconnected when the connection drops, or the ack times
// out) is sent again, with the same Nats-Msg-Id so the stream keeps one
// copy, once the connection is back, until PublishTimeout passed since
// PublishAsync took it; then done gets an error wrapping
// herald.ErrUnreachable. Resending rather than reporting keeps the
// contract of PublishContext (a publish waits for an unreachable broker
// until its timeout) and loses nothing: a message the server stored
// before the connection broke is recognised as a duplicate. Errors that
// waiting cannot fix (no stream, a message over the size limit) reach done
// at once. On Close the messages still unacknowledged after CloseTimeout
// get an error wrapping herald.ErrClosed.
func (p *Publisher) PublishAsync(ctx context.Context, topic string, msg *message.Message, done func(error)) error {
	if p.closed.Load() {
		return closedError(p.scheme, opPublish, topic)
	}
	if err := CheckTopic(topic); err != nil {
		return opError(p.scheme, opPublish, topic, err)
	}
	if err := ctx.Err(); err != nil {
		return opError(p.scheme, opPublish, topic, err)
	}
	nm, err := p.m.Marshal(topic, msg)
	if err != nil {
		return opError(p.scheme, opPublish, topic, fmt.Errorf("marshal message %q: %w", msg.UUID, err))
	}
	if _, err := p.ensure(ctx, topic); err != nil {
		if p.ended(ctx) {
			return p.fail(ctx, topic, 1, 1, err)
		}
		if !Retryable(err) {
			return opError(p.scheme, opPublish, topic, err)
		}
		// Unreachable for now: the waiter resends until the timeout.
	}
	// Close waits for the callers between here and the queue, then fails
	// what the queue holds.
	p.amu.Lock()
	if p.closed.Load() {
		p.amu.Unlock()
		return closedError(p.scheme, opPublish, topic)
	}
	p.takers++
	p.amu.Unlock()
	defer p.untake()
	p.asyncOnce.Do(p.startAsync)
	// Take a slot in the window.
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		cause := ctx.Err()
		if !p.nc.IsConnected() {
			cause = fmt.Errorf("%w: %w", herald.ErrUnreachable, cause)
		}
		return opError(p.scheme, opPublish, topic, fmt.Errorf("%d messages still await their acknowledgement (max_pending): %w", cap(p.slots), cause))
	case <-p.stop.Done():
		return closedError(p.scheme, opPublish, topic)
	}
	p.win.push(pendingPub{topic: topic, nm: nm, deadline: time.Now().Add(p.set.PublishTimeout), done: done})
	if _, err := p.js.PublishMsgAsync(nm); err != nil {
		p.win.result(nm, err)
	}
	return nil
}

func (p *Publisher) untake() {
	p.amu.Lock()
	p.takers--
	if p.takers == 0 && p.untaken != nil {
		close(p.untaken)
		p.untaken = nil
	}
	p.amu.Unlock()
}

// startAsync starts the goroutine that waits for the PubAcks.
func (p *Publisher) startAsync() { go p.waitAcks() }

// waitAcks settles the taken messages in publish order until Close.
func (p *Publisher) waitAcks() {
	defer close(p.asyncDone)
	w := p.win
	// One timer for the head's publish timeout.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		w.mu.Lock()
		if w.n == 0 || w.ring[w.head].state == pubPending {
			var expiry <-chan time.Time
			if w.n > 0 {
				e := &w.ring[w.head]
				wait := time.Until(e.deadline)
				if wait <= 0 {
					// No PubAck within the publish timeout: a late one is
					// ignored.
					delete(w.byMsg, e.nm)
					e.state, e.err = pubFailed, p.timedOut(e.topic)
					w.mu.Unlock()
					continue
				}
				timer.Reset(wait)
				expiry = timer.C
			}
			w.mu.Unlock()
			select {
			case <-w.notify:
			case <-expiry:
			case <-p.stop.Done():
				return // Close fails the rest
			}
			continue
		}
		e := &w.ring[w.head]
		if e.state == pubFailed && Retryable(e.err) && !final(e.err) {
			if p.stop.Err() != nil {
				e.err = closedError(p.scheme, opPublish, e.topic)
				w.mu.Unlock()
				continue
			}
			// Send again, unless the publish timeout passes meanwhile.
			nm, topic, deadline, last := e.nm, e.topic, e.deadline, e.err
			e.state, e.err = pubPending, nil
			w.byMsg[nm] = w.head
			w.mu.Unlock()
			if err := p.resend(nm, topic, deadline, last); err != nil {
				w.result(nm, err)
			}
			continue
		}
		done, err := e.done, error(nil)
		if e.state == pubFailed {
			err = p.asyncError(e.topic, e.err)
		}
		*e = pendingPub{}
		w.head = (w.head + 1) % len(w.ring)
		w.n--
		w.mu.Unlock()
		done(err)
		<-p.slots
	}
}

// timedOut is done's error for a message without a PubAck within the
// publish timeout.
func (p *Publisher) timedOut(topic string) error {
	return opError(p.scheme, opPublish, topic, fmt.Errorf("%w: no acknowledgement within publish_timeout (%v): %w", herald.ErrUnreachable, p.set.PublishTimeout, context.DeadlineExceeded))
}

// final reports whether err was made by resend or Close: reported as it
// is, never retried.
func final(err error) bool {
	return errors.Is(err, herald.ErrClosed) || errors.Is(err, herald.ErrUnreachable)
}

// asyncError is done's error for a message the broker refused or that
// waited past its publish timeout.
func (p *Publisher) asyncError(topic string, err error) error {
	if final(err) {
		return err
	}
	return opError(p.scheme, opPublish, topic, err)
}

// resend waits for the connection (and a little, not to spin) within the
// message's publish timeout, then sends nm again; it returns the error to
// report when that cannot be done.
func (p *Publisher) resend(nm *nats.Msg, topic string, deadline time.Time, last error) error {
	if errors.Is(last, jetstream.ErrNoStreamResponse) || errors.Is(last, nats.ErrNoResponders) {
		p.prov.forget(topic)
	}
	ctx, cancel := context.WithDeadline(p.stop, deadline)
	defer cancel()
	if err := p.resendWait(ctx, topic); err != nil {
		if p.stop.Err() != nil {
			return closedError(p.scheme, opPublish, topic)
		}
		return opError(p.scheme, opPublish, topic, fmt.Errorf("%w: %w (last broker error: %w)", herald.ErrUnreachable, context.DeadlineExceeded, last))
	}
	_, err := p.js.PublishMsgAsync(nm)
	return err
}

// resendWait waits before a resend: until the connection is up and the
// topic's stream known, and at least a short pause.
func (p *Publisher) resendWait(ctx context.Context, topic string) error {
	t := time.NewTimer(50 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := p.waitConnected(ctx); err != nil {
		return err
	}
	if _, err := p.prov.ensure(ctx, topic); err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// failAsync runs in Close once stop is cancelled: it waits for the
// PublishAsync calls under way and the waiter, then fails what is left
// with ErrClosed.
func (p *Publisher) failAsync(started bool) {
	p.amu.Lock()
	var wait chan struct{}
	if p.takers > 0 {
		wait = make(chan struct{})
		p.untaken = wait
	}
	p.amu.Unlock()
	if wait != nil {
		<-wait
	}
	if started {
		<-p.asyncDone
	}
	w := p.win
	w.mu.Lock()
	var left []pendingPub
	for ; w.n > 0; w.n-- {
		left = append(left, w.ring[w.head])
		w.ring[w.head] = pendingPub{}
		w.head = (w.head + 1) % len(w.ring)
	}
	clear(w.byMsg)
	w.mu.Unlock()
	for _, e := range left {
		if e.state == pubOK {
			e.done(nil)
		} else {
			e.done(closedError(p.scheme, opPublish, e.topic))
		}
		<-p.slots
	}
}

// closeAsync waits up to CloseTimeout for the taken messages to be
// acknowledged; Close then fails the rest with ErrClosed.
func (p *Publisher) closeAsync() {
	t := time.NewTimer(p.set.CloseTimeout)
	defer t.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for len(p.slots) > 0 {
		select {
		case <-tick.C:
		case <-t.C:
			return
		}
	}
}
