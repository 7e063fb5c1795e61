package natsx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

var _ adapters.AsyncPublisher = (*Publisher)(nil)

// pendingPub is one message taken by PublishAsync.
type pendingPub struct {
	topic    string
	nm       *nats.Msg // as marshalled; resends copy it
	f        jetstream.PubAckFuture
	sendErr  error // the send failed before a future existed
	deadline time.Time
	done     func(error)
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
	if _, err := p.prov.ensure(ctx, topic); err != nil {
		if ctx.Err() != nil {
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
	e := pendingPub{topic: topic, nm: nm, deadline: time.Now().Add(p.set.PublishTimeout), done: done}
	e.f, e.sendErr = p.js.PublishMsgAsync(nm)
	p.queue <- e // never blocks: the queue holds as many as the window
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
	for {
		select {
		case e := <-p.queue:
			e.done(p.settle(&e))
			<-p.slots
		case <-p.stop.Done():
			return // Close fails the rest
		}
	}
}

// settle waits for e's PubAck, resending while that may help, and
// returns done's error.
func (p *Publisher) settle(e *pendingPub) error {
	var last error
	for {
		err := e.sendErr
		if e.f != nil {
			select {
			case <-e.f.Ok():
				return nil
			case err = <-e.f.Err():
			case <-p.stop.Done():
				return closedError(p.scheme, opPublish, e.topic)
			}
		}
		if !Retryable(err) {
			return opError(p.scheme, opPublish, e.topic, err)
		}
		last = err
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
			p.prov.forget(e.topic)
		}
		// Wait for the connection (and a little, not to spin) within the
		// message's publish timeout, then send again.
		ctx, cancel := context.WithDeadline(p.stop, e.deadline)
		err = p.resendWait(ctx, e.topic)
		if err == nil {
			e.f, e.sendErr = p.js.PublishMsgAsync(&nats.Msg{Subject: e.nm.Subject, Header: e.nm.Header, Data: e.nm.Data})
		}
		cancel()
		if err != nil {
			if p.stop.Err() != nil {
				return closedError(p.scheme, opPublish, e.topic)
			}
			return opError(p.scheme, opPublish, e.topic, fmt.Errorf("%w: %w (last broker error: %w)", herald.ErrUnreachable, context.DeadlineExceeded, last))
		}
	}
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
	for {
		select {
		case e := <-p.queue:
			e.done(closedError(p.scheme, opPublish, e.topic))
			<-p.slots
		default:
			return
		}
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
