package rabbitmq

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/backoff"
)

// confirmChan is one open publish channel and its confirm listener: the
// messages written on it wait in queue, in write order, for their
// confirms.
type confirmChan struct {
	t      *topic
	slot   *pubChan
	ch     *amqp.Channel
	closes chan *amqp.Error
	// nacked: the broker nacked a message on this channel. The next send
	// on the slot replaces it (see resend).
	nacked atomic.Bool

	mu      sync.Mutex
	queue   []*outgoing // written, confirm not yet handled
	retired bool        // no more writes: close once queue is empty
	wake    chan struct{}

	// Owned by the listener goroutine.
	whyOnce  sync.Once
	why      *amqp.Error
	nackedAt time.Time
}

// listen makes ch the confirm channel of slot and starts its listener.
func (t *topic) listen(slot *pubChan, ch *amqp.Channel) *confirmChan {
	c := &confirmChan{t: t, slot: slot, ch: ch, closes: ch.NotifyClose(make(chan *amqp.Error, 1)), wake: make(chan struct{}, 1)}
	t.listeners.Add(1)
	go c.run()
	return c
}

// push queues p, just written on c (the slot is locked).
func (c *confirmChan) push(p *outgoing) {
	c.mu.Lock()
	c.queue = append(c.queue, p)
	c.mu.Unlock()
	c.signal()
}

// retire stops writes on c (the slot is locked): the listener closes the
// channel once the confirms of what was written on it are handled.
func (c *confirmChan) retire() {
	c.mu.Lock()
	c.retired = true
	c.mu.Unlock()
	c.signal()
}

func (c *confirmChan) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run handles the confirms of c's messages in write order until c is
// retired and empty, or the topic stops.
func (c *confirmChan) run() {
	defer c.t.listeners.Done()
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			retired := c.retired
			c.mu.Unlock()
			if retired {
				// Its close-ok may never come (a black-holed broker):
				// closing the connection ends the wait.
				go func() { _ = c.ch.Close() }()
				return
			}
			select {
			case <-c.wake:
			case <-c.t.stop:
				return
			}
			continue
		}
		p := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		c.mu.Unlock()
		c.await(p)
	}
}

// await waits for p's confirm and settles p: done, or sent again after
// a nack.
func (c *confirmChan) await(p *outgoing) {
	t := c.t
	if p.dc == nil { // confirm=false: written is all there is to know
		t.finish(p, nil)
		return
	}
	select {
	case <-p.dc.Done():
	case <-p.ctx.Done():
		t.finish(p, outcomeUnknown(p.m.UUID, fmt.Errorf("the confirm did not come within the deadline: %w", p.ctx.Err())))
		return
	case <-t.abandon:
		t.finish(p, withKind(herald.KindClosed, fmt.Errorf("message %s written, no confirm before Close stopped waiting (the broker may have stored it)", p.m.UUID)))
		return
	}
	if p.dc.Acked() {
		t.finish(p, nil)
		return
	}
	// amqp091 marks the channel closed before it resolves the pending
	// confirms as nacks: a nack on an open channel is the broker's.
	if !c.ch.IsClosed() {
		c.resend(p)
		return
	}
	if isConnectionError(c.reason()) {
		c.rewrite(p)
		return
	}
	t.finish(p, c.lost(p))
}

// rewrite sends p again, once the connection is back, after the
// connection was lost before p's confirm (a node of the cluster killed,
// a network cut): the application does not see the failover, at the
// cost of a possible second copy (the broker may have stored the first).
// The listener handles its channel's messages in write order, so they
// are written again in that order; messages sent meanwhile on the new
// channel can come before them. When p's deadline passes (or Close gives
// up) first, p fails as written without a confirm: the broker may have
// it (KindOutcomeUnknown).
func (c *confirmChan) rewrite(p *outgoing) {
	t := c.t
	p.dc = nil
	err := t.send(p, t.abandon)
	if err == nil {
		return
	}
	switch kindOf(err) {
	case herald.KindUnreachable, herald.KindOther:
		err = outcomeUnknown(p.m.UUID, fmt.Errorf("the connection closed before its confirm and it was not written again: %w", err))
	case herald.KindClosed:
		err = withKind(herald.KindClosed, fmt.Errorf("message %s written, no confirm before the connection closed, and closed before it was written again (the broker may have stored it)", p.m.UUID))
	}
	t.finish(p, err)
}

// maxNackRetries bounds the resends of a nacked message: with the
// backoff (20 ms doubling) about 1.3 s. A quorum queue nacks while it has
// no leader (its node was killed; the election takes a fraction of a
// second, TestRabbitMQClusterFailover): the resend then succeeds. A nack
// that lasts (a queue at its length limit with overflow=reject-publish)
// fails the message after the retries.
const maxNackRetries = 6

// resend sends p again after the broker nacked it: on a new channel (a
// RabbitMQ 3.10 channel that published to a quorum queue while the queue
// had no leader went on nacking every later message to that queue after
// a new leader was elected; a new channel works), after a backoff that
// grows with p's nacks, counted from the channel's first nack (the
// messages it nacked together wait once), within p's ctx.
func (c *confirmChan) resend(p *outgoing) {
	t := c.t
	c.nacked.Store(true)
	if c.nackedAt.IsZero() {
		c.nackedAt = time.Now()
	}
	p.nacks++
	refused := fmt.Errorf("the broker refused message %s %d times (a nack: it could not store it, e.g. a quorum queue without a leader, or a queue at its length limit with overflow=reject-publish)", p.m.UUID, p.nacks)
	if p.nacks > maxNackRetries {
		t.finish(p, refused)
		return
	}
	tm := time.NewTimer(time.Until(c.nackedAt.Add(backoff.Exp(p.nacks, 20*time.Millisecond, time.Second))))
	select {
	case <-tm.C:
	case <-p.ctx.Done():
		tm.Stop()
		t.finish(p, withKind(herald.KindUnreachable, fmt.Errorf("%w; the deadline passed before it was sent again: %w", refused, p.ctx.Err())))
		return
	case <-t.abandon:
		tm.Stop()
		t.finish(p, withKind(herald.KindClosed, fmt.Errorf("%w; closed before it was sent again", refused)))
		return
	}
	p.dc = nil
	if err := t.send(p, t.abandon); err != nil {
		t.finish(p, fmt.Errorf("%w; sending it again: %w", refused, err))
	}
}

// reason returns the error c's channel closed with (nil for a clean
// close or a lost connection the client noticed first); call it once
// the channel is known to be closed.
func (c *confirmChan) reason() *amqp.Error {
	c.whyOnce.Do(func() {
		tm := time.NewTimer(closeTimeout)
		defer tm.Stop()
		select {
		case c.why = <-c.closes:
		case <-tm.C:
		}
	})
	return c.why
}

// lost is the error of p, written on c, whose channel closed before its
// confirm: the broker may have stored it (KindOutcomeUnknown), unless the
// channel closed over p itself (too large) or over a refused permission
// (nothing was stored).
func (c *confirmChan) lost(p *outgoing) error {
	t := c.t
	e := c.reason()
	if isConnectionError(e) {
		cause := errors.New("the connection closed")
		if e != nil {
			cause = fmt.Errorf("the connection closed: %w", e)
		}
		return outcomeUnknown(p.m.UUID, cause)
	}
	if e.Code == amqp.AccessRefused {
		return accessRefused(t.s, "publish (write to the exchange)", fmt.Errorf("message %s: %w", p.m.UUID, e))
	}
	if _, limit, ok := refusedSize(e); ok {
		t.maxSize.Store(limit)
		if size := int64(len(p.pub.Body)); size > limit {
			return fmt.Errorf("message %s: %w: %w", p.m.UUID, sizeError(size, limit), e)
		}
	}
	if e.Code == amqp.NotFound {
		// The exchange was deleted: declare it again from now on.
		t.declared.Range(func(k, _ any) bool { t.declared.Delete(k); return true })
	}
	return outcomeUnknown(p.m.UUID, fmt.Errorf("the broker closed the channel over another message or the exchange: %w", e))
}
