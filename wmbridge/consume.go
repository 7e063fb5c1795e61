package wmbridge

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald/adapters"
)

// consumer feeds one Subscribe channel from a stream, one message at a
// time, and settles each as the Watermill handler acks or nacks it.
type consumer struct {
	s     *Subscriber
	topic string
	ctx   context.Context // the subscription's life: Subscribe's ctx, cancelled by Close
	out   chan *message.Message

	mu     sync.Mutex
	outage bool                     // the stream reported or returned an error and has not received since
	holds  map[*time.Timer]struct{} // nacks held for the nack delay (RedeliverBroker without NackDelay)
}

func newConsumer(s *Subscriber, topic string, ctx context.Context) *consumer {
	return &consumer{s: s, topic: topic, ctx: ctx, out: make(chan *message.Message), holds: map[*time.Timer]struct{}{}}
}

// run receives from st until the subscription ends, reopening the stream
// when it breaks, then closes the stream and the channel.
func (c *consumer) run(st adapters.Stream) {
	defer close(c.out)
	buf := make([]adapters.Received, c.s.window)
	for {
		n, err := st.Receive(c.ctx, buf)
		if err != nil {
			if c.ctx.Err() != nil {
				c.closeStream(st)
				return
			}
			if st = c.reopen(st, err); st == nil {
				return
			}
			continue
		}
		c.status(nil)
		for i := range n {
			ok := c.deliver(st, buf[i])
			buf[i] = adapters.Received{}
			if !ok {
				c.closeStream(st)
				return
			}
		}
	}
}

// deliver hands r to the Watermill channel until it is acked, nacked to
// the broker, or skipped; false when the subscription ended first.
func (c *consumer) deliver(st adapters.Stream, r adapters.Received) bool {
	for {
		if !st.Valid(r.Token) {
			return true // handed to another consumer (revoked): not ours to handle
		}
		m := r.Msg.Copy()
		mctx, cancel := context.WithCancel(c.ctx)
		m.SetContext(mctx)
		select {
		case c.out <- m:
		case <-c.ctx.Done():
			cancel()
			return false
		}
		select {
		case <-m.Acked():
			cancel()
			st.Ack(r.Token)
			return true
		case <-m.Nacked():
			cancel()
		case <-c.ctx.Done():
			cancel()
			// An ack that raced with the end is still flushed by Close.
			select {
			case <-m.Acked():
				st.Ack(r.Token)
			default:
			}
			return false
		}
		if c.s.caps.Redelivery == adapters.RedeliverBroker {
			c.nack(st, r.Token)
			return true
		}
		// RedeliverLocal: the backend keeps the message for us; send it
		// again after the delay, before any later message.
		if !sleep(c.ctx, c.s.set.nackDelay) {
			return false
		}
	}
}

// nack returns a delivery to the broker after the nack delay: with it
// where the broker delays natively, else after holding it.
func (c *consumer) nack(st adapters.Stream, t adapters.Token) {
	d := c.s.set.nackDelay
	if d == 0 || c.s.caps.NackDelay {
		st.Nack(t, d)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var timer *time.Timer
	timer = time.AfterFunc(d, func() {
		c.mu.Lock()
		_, held := c.holds[timer]
		delete(c.holds, timer)
		c.mu.Unlock()
		if held {
			st.Nack(t, 0)
		}
	})
	c.holds[timer] = struct{}{}
}

// closeStream closes st within the close timeout; held nacks are dropped
// (Close returns unsettled deliveries to the broker).
func (c *consumer) closeStream(st adapters.Stream) {
	c.mu.Lock()
	for t := range c.holds {
		t.Stop()
	}
	clear(c.holds)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.s.set.closeTimeout)
	defer cancel()
	if err := st.Close(ctx); err != nil {
		c.s.set.logger.Debug("wmbridge: closing a stream", "topic", c.topic, "err", err)
	}
}

// reopen closes a broken stream and opens another with backoff; nil when
// the subscription ended first.
func (c *consumer) reopen(old adapters.Stream, cause error) adapters.Stream {
	c.closeStream(old)
	c.status(cause)
	wait := 50 * time.Millisecond
	for {
		if !sleep(c.ctx, jitter(wait)) {
			return nil
		}
		wait = min(2*wait, 5*time.Second)
		st, err := c.s.open(c.ctx, c)
		if err == nil {
			c.s.set.logger.Debug("wmbridge: stream reopened", "backend", c.s.scheme, "topic", c.topic)
			return st
		}
		if c.ctx.Err() != nil {
			return nil
		}
		c.status(err)
	}
}

// status is the stream's health (adapters.StreamOptions.Status), also fed
// by the consumer's own failures: an outage is logged once, at warn, with
// its first cause, and its end at info.
func (c *consumer) status(err error) {
	c.mu.Lock()
	was := c.outage
	c.outage = err != nil
	c.mu.Unlock()
	switch {
	case err != nil && !was:
		c.s.set.logger.Warn("wmbridge: subscription interrupted", "backend", c.s.scheme, "topic", c.topic, "err", err)
	case err == nil && was:
		c.s.set.logger.Info("wmbridge: subscription receiving again", "backend", c.s.scheme, "topic", c.topic)
	}
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// jitter spreads d by +-20%.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}
