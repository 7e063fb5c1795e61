package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

var _ adapters.AsyncPublisher = (*publisher)(nil)

// asyncMsg is a message taken by PublishAsync: sent on a pool channel and
// waiting there for its confirm.
type asyncMsg struct {
	msg      *message.Message
	pub      amqp.Publishing
	topic    string
	done     func(error)
	dc       *amqp.DeferredConfirmation // nil without confirms
	oc       *openChannel               // the channel it went out on
	deadline time.Time                  // resends and the confirm wait end here
	retries  int                        // resends after channel (not connection) errors
	nacks    int                        // resends after nacks
}

// PublishAsync implements adapters.AsyncPublisher with deferred
// confirms: it sends msg on one of the pool channels and returns; the
// channel's confirm listener (one goroutine per pool channel) calls done
// once the broker confirmed it. At most "window" messages of the
// publisher are taken and not yet done; PublishAsync waits for room
// until ctx ends. Until msg is sent it behaves as PublishContext: it
// waits for an unreachable broker within ctx and returns at once the
// errors waiting cannot fix (done is then not called).
//
// A taken message is not bound by ctx but by the publish timeout (30s):
// when its channel or connection is lost before the confirm it is sent
// again (it may then be stored twice), waiting for the reconnection; if
// no confirm came within the timeout done gets an error wrapping
// herald.ErrUnreachable and context.DeadlineExceeded. A nack is retried
// (maxNackRetries); one that lasts, or a refusal of the message or topic,
// is done's error for that message alone; after Close, herald.ErrClosed for what was not confirmed
// within Close's wait.
func (p *publisher) PublishAsync(ctx context.Context, topic string, msg *message.Message, done func(error)) error {
	if err := checkTopic(topic); err != nil {
		return opError(p.s.scheme, opPublish, topic, err)
	}
	if err := ctx.Err(); err != nil {
		return opError(p.s.scheme, opPublish, topic, err)
	}
	if !p.enter() {
		return opError(p.s.scheme, opPublish, topic, herald.ErrClosed)
	}
	pub, err := p.cfg.Marshaler.Marshal(msg)
	if err == nil {
		err = checkPublishing(pub, p.conn.maxFrame(), p.maxSize.Load())
	}
	if err != nil {
		p.wg.Done()
		return opError(p.s.scheme, opPublish, topic, fmt.Errorf("message %s: %w", msg.UUID, err))
	}
	select {
	case p.slots <- struct{}{}:
	default:
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			p.wg.Done()
			return opError(p.s.scheme, opPublish, topic, unreachable(ctx, fmt.Errorf("%d messages wait for their confirms (the publish window is full)", cap(p.slots))))
		case <-p.stopWaiting:
			p.wg.Done()
			return opError(p.s.scheme, opPublish, topic, herald.ErrClosed)
		}
	}
	if done == nil {
		done = func(error) {}
	}
	m := asyncMsg{msg: msg, pub: pub, topic: topic, done: done, deadline: time.Now().Add(defaultPublishTimeout)}
	if err := p.sendAsync(ctx, &m); err != nil {
		<-p.slots
		p.wg.Done()
		return opError(p.s.scheme, opPublish, topic, err)
	}
	// The message keeps its wg count until finish.
	return nil
}

// enter registers a call (or a taken message) that Close waits for;
// false once closed.
func (p *publisher) enter() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	return true
}

// sendAsync sends m on a pool channel, again after a lost channel or
// connection, until it is sent, an error that waiting cannot fix, or ctx
// ends.
func (p *publisher) sendAsync(ctx context.Context, m *asyncMsg) error {
	return p.onChannel(ctx, func(pc *pubChannel) error { return p.sendOn(ctx, pc, m, p.stopWaiting) })
}

// sendOn publishes m on pc and queues it for pc's confirm listener.
func (p *publisher) sendOn(ctx context.Context, pc *pubChannel, m *asyncMsg, abort <-chan struct{}) error {
	if err := pc.lock(ctx, abort); err != nil {
		return err
	}
	defer pc.unlock()
	if pc.stopped {
		return herald.ErrClosed
	}
	oc, err := p.ready(ctx, pc, m.topic)
	if err != nil {
		return err
	}
	dc, err := oc.ch.PublishWithDeferredConfirm(m.topic, "", false, false, m.pub)
	if err != nil {
		return p.channelError(oc, fmt.Errorf("message %s: %w", m.msg.UUID, err), len(m.pub.Body))
	}
	m.dc, m.oc = dc, oc
	if pc.queue == nil {
		// Room for the whole window: queueing never blocks.
		pc.queue = make(chan asyncMsg, cap(p.slots))
		p.listeners.Add(1)
		go p.listen(pc)
	}
	pc.queue <- *m
	return nil
}

// listen is pc's confirm listener: it waits for each queued message's
// confirm in turn and calls its done, until Close, when it fails what
// is left with herald.ErrClosed.
func (p *publisher) listen(pc *pubChannel) {
	defer p.listeners.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case m := <-pc.queue:
			p.await(pc, &m, t)
			continue
		case <-p.closing:
		}
		// Nothing is queued on pc once it is stopped (under its lock).
		pc.sem <- struct{}{}
		pc.stopped = true
		<-pc.sem
		for {
			select {
			case m := <-pc.queue:
				if m.dc == nil || (isDone(m.dc) && m.dc.Acked()) {
					p.finish(&m, nil)
				} else {
					p.finish(&m, fmt.Errorf("message %s unconfirmed: %w", m.msg.UUID, herald.ErrClosed))
				}
			default:
				return
			}
		}
	}
}

// await waits for m's confirm (t is the listener's timer) and settles m:
// done, or sent again after a lost channel.
func (p *publisher) await(pc *pubChannel, m *asyncMsg, t *time.Timer) {
	if m.dc == nil { // confirm=false: sent is all we know
		p.finish(m, nil)
		return
	}
	select {
	case <-m.dc.Done():
	default:
		t.Reset(time.Until(m.deadline))
		select {
		case <-m.dc.Done():
			t.Stop()
		case <-t.C:
			p.finish(m, fmt.Errorf("message %s unconfirmed: %w", m.msg.UUID, p.timedOut(errors.New("no confirm from the broker"))))
			return
		case <-p.closing:
			t.Stop()
			p.finish(m, fmt.Errorf("message %s unconfirmed: %w", m.msg.UUID, herald.ErrClosed))
			return
		}
	}
	if m.dc.Acked() {
		p.finish(m, nil)
		return
	}
	if !m.oc.ch.IsClosed() {
		m.oc.retire()
		p.resend(pc, m, asRetryable(nackError(m.msg.UUID)))
		return
	}
	err := p.channelError(m.oc, fmt.Errorf("message %s unconfirmed", m.msg.UUID), len(m.pub.Body))
	r := asRetryable(err)
	if r == nil {
		p.finish(m, err)
		return
	}
	p.resend(pc, m, r)
}

// resend sends m again on pc after its channel was lost (r), waiting for
// the reconnection until m's deadline; pc's listener (the caller) then
// awaits it again.
func (p *publisher) resend(pc *pubChannel, m *asyncMsg, r *retryable) {
	ctx, cancel := context.WithDeadline(context.Background(), m.deadline)
	defer cancel()
	delay := 20 * time.Millisecond
	for {
		switch {
		case r.nack:
			if m.nacks++; m.nacks > maxNackRetries {
				p.finish(m, r.err)
				return
			}
			// Each nack comes back to a new resend: grow the delay
			// from the count (20 ms doubling, as in onChannel).
			delay = 20 * time.Millisecond << (m.nacks - 1)
		case !r.connection:
			if m.retries++; m.retries > maxChannelRetries {
				p.finish(m, r.err)
				return
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			if r.nack {
				p.finish(m, r.err)
				return
			}
			p.finish(m, unreachable(ctx, r.err))
			return
		case <-p.closing:
			t.Stop()
			p.finish(m, fmt.Errorf("message %s unconfirmed: %w", m.msg.UUID, herald.ErrClosed))
			return
		}
		delay = min(2*delay, time.Second)
		if _, err := p.conn.wait(ctx, p.closing); err != nil {
			p.finish(m, fmt.Errorf("message %s unconfirmed: %w", m.msg.UUID, err))
			return
		}
		err := p.sendOn(ctx, pc, m, p.closing)
		if err == nil {
			return
		}
		if r = asRetryable(err); r == nil {
			p.finish(m, err)
			return
		}
	}
}

// timedOut is the error of a message whose publish timeout expired.
func (p *publisher) timedOut(cause error) error {
	if _, err := p.conn.get(); err != nil {
		cause = err
	}
	return fmt.Errorf("%w: %w (%w)", herald.ErrUnreachable, context.DeadlineExceeded, cause)
}

// finish calls m's done with err (nil: confirmed) and frees its place in
// the window.
func (p *publisher) finish(m *asyncMsg, err error) {
	if err != nil {
		err = opError(p.s.scheme, opPublish, m.topic, err)
	}
	m.done(err)
	<-p.slots
	p.wg.Done()
}
