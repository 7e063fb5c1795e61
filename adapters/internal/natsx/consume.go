package natsx

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald/adapters"
)

// Delays between attempts to create a consumer again; the delay doubles
// after each failure and starts again from minRetry once a consumer ran
// for stableAfter.
const (
	minRetry    = 100 * time.Millisecond
	maxRetry    = 30 * time.Second
	stableAfter = 30 * time.Second
	probeWait   = 5 * time.Second
)

// subscription is one Subscribe call.
type subscription struct {
	s     *Subscriber
	ctx   context.Context // Subscribe's
	topic string
	out   chan *message.Message
	h     *Health
	wake  chan struct{} // the connection changed: check the consumer
	// window is the pull buffer (PullMaxMessages).
	window int
	// handle takes one message (nil: deliver, the Watermill path); end
	// runs when the subscription stops for good (nil: close out).
	handle func(raw jetstream.Msg)
	end    func()
	// deliver's, reused from message to message.
	msgCtx   context.Context
	progress *time.Ticker
}

// errIteratorEnded is the cause when the iterator ended without saying why.
var errIteratorEnded = errors.New("the pull subscription ended")

// run feeds out until ctx ends or the subscriber closes. If consuming
// stops by itself (the consumer was deleted, for example by an operator or
// a broker that lost its state), the break is reported, the consumer is
// created again with growing delays and consuming resumes.
func (sub *subscription) run(c jetstream.Consumer, it jetstream.MessagesContext) {
	s := sub.s
	defer s.wg.Done()
	if sub.end != nil {
		defer sub.end()
	} else {
		defer close(sub.out)
	}
	unlisten := s.watch.Listen(func(err error) {
		if err != nil {
			sub.h.Lost(err)
		}
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	})
	defer unlisten()
	delay := minRetry
	for {
		started := time.Now()
		cause := sub.consume(c, it)
		if sub.stopping() {
			return
		}
		if time.Since(started) >= stableAfter {
			delay = minRetry
		}
		if s.nc.IsClosed() {
			// nats.go gave up reconnecting: nothing can recover.
			sub.h.Lost(errors.Join(nats.ErrConnectionClosed, cause))
			return
		}
		sub.h.Lost(cause)
		for {
			if !sub.sleep(delay) {
				return
			}
			delay = min(2*delay, maxRetry)
			ctx, cancel := s.opContext(sub.ctx)
			ctx, cancel2 := context.WithTimeout(ctx, 10*time.Second)
			var err error
			c, it, err = s.iterator(ctx, sub.topic, sub.window, true)
			cancel2()
			cancel()
			if err == nil {
				break
			}
			if sub.stopping() {
				return
			}
			sub.h.Lost(err)
		}
		sub.h.OK()
	}
}

// sleep waits d, and while the connection is down until it is back; it
// returns false when the subscription stops.
func (sub *subscription) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-sub.ctx.Done():
		return false
	case <-sub.s.stop.Done():
		return false
	}
	select {
	case <-sub.s.watch.Up():
		return true
	case <-sub.ctx.Done():
		return false
	case <-sub.s.stop.Done():
		return false
	}
}

// consume delivers the iterator's messages until it closes; it returns
// why it closed.
func (sub *subscription) consume(c jetstream.Consumer, it jetstream.MessagesContext) error {
	var (
		mu    sync.Mutex
		cause error
	)
	setCause := func(err error) {
		mu.Lock()
		cause = err
		mu.Unlock()
	}
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		for {
			select {
			case <-sub.ctx.Done():
			case <-sub.s.stop.Done():
			case <-finished:
			case <-sub.wake:
				if gone := sub.probe(c); gone != nil {
					setCause(gone)
					it.Stop() // the consumer is gone: create it again
					return
				}
				continue
			}
			it.Drain() // stop pulling; what is buffered comes out of Next, then it ends
			return
		}
	}()
	for {
		raw, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			mu.Lock()
			defer mu.Unlock()
			if cause == nil {
				cause = errIteratorEnded
				if errors.Is(err, jetstream.ErrConnectionClosed) {
					cause = err
				}
			}
			return cause
		}
		if errors.Is(err, jetstream.ErrNoHeartbeat) {
			// The server stopped answering the pull requests: check why.
			select {
			case sub.wake <- struct{}{}:
			default:
			}
			continue
		}
		if err != nil {
			setCause(err) // ErrConsumerDeleted and the like end the iterator
			continue
		}
		if sub.stopping() {
			_ = raw.Nak() // back to the consumer at once, for another subscriber
			continue
		}
		sub.h.OK()
		if sub.handle != nil {
			sub.handle(raw)
		} else {
			sub.deliver(raw)
		}
	}
}

// probe checks, while the connection is up, that the consumer still
// exists: it returns the cause when it is gone, nil otherwise, and
// reports the subscription healthy when the server answers.
func (sub *subscription) probe(c jetstream.Consumer) error {
	if !sub.s.nc.IsConnected() {
		return nil // lost was reported; the reconnect wakes us again
	}
	ctx, cancel := sub.s.opContext(sub.ctx)
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, probeWait)
	defer cancel2()
	_, err := c.Info(ctx)
	switch {
	case err == nil:
		sub.h.OK()
		return nil
	case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		return err
	case ctx.Err() != nil && sub.stopping():
		return nil
	default:
		sub.h.Lost(err)
		return nil
	}
}

func (sub *subscription) stopping() bool {
	return sub.ctx.Err() != nil || sub.s.stop.Err() != nil
}

// deliver hands one message to the Watermill consumer and settles it.
func (sub *subscription) deliver(raw jetstream.Msg) {
	s := sub.s
	d := s.delivery(raw)
	msg := d.Msg
	// The handler's context outlives Subscribe's, so a handler running when
	// the subscription stops can finish and be acked (drain).
	if sub.msgCtx == nil {
		sub.msgCtx = context.WithoutCancel(sub.ctx)
	}
	msg.SetContext(sub.msgCtx)
	if d.Attempt > 0 {
		adapters.SetDeliveryCount(msg, d.Attempt)
	}

	select {
	case sub.out <- msg:
	case <-sub.ctx.Done():
		_ = raw.Nak()
		return
	case <-s.stop.Done():
		_ = raw.Nak()
		return
	}

	// One ticker per subscription (it hands out one message at a time).
	if sub.progress == nil {
		sub.progress = time.NewTicker(s.progressInterval())
	} else {
		sub.progress.Reset(s.progressInterval())
	}
	progress := sub.progress
	defer progress.Stop()
	closing := s.stop.Done()
	var giveUp <-chan time.Time
	for {
		select {
		case <-msg.Acked():
			if err := raw.Ack(); err != nil {
				s.log.Debug("herald/"+s.scheme+": ack failed; the message will be redelivered", "topic", sub.topic, "id", msg.UUID, "err", err)
			}
			return
		case <-msg.Nacked():
			s.nak(msg, raw, d.Attempt)
			return
		case <-progress.C:
			_ = raw.InProgress()
		case <-closing:
			closing = nil
			t := time.NewTimer(s.set.CloseTimeout)
			defer t.Stop()
			giveUp = t.C
		case <-giveUp:
			_ = raw.Nak()
			return
		}
	}
}

// nak asks for redelivery: after the delay the handler asked for
// (adapters.NackDelay), else after the configured nak_delay or backoff
// step.
func (s *Subscriber) nak(msg *message.Message, raw jetstream.Msg, attempt int) {
	if d, ok := adapters.NackDelay(msg); ok && d > 0 {
		_ = raw.NakWithDelay(d)
		return
	}
	if delay := s.defaultNakDelay(attempt); delay > 0 {
		_ = raw.NakWithDelay(delay)
		return
	}
	_ = raw.Nak()
}

// defaultNakDelay is the redelivery delay after a nack of the given
// delivery attempt (1 for the first) without a delay of its own: the
// backoff step, else nak_delay.
func (s *Subscriber) defaultNakDelay(attempt int) time.Duration {
	if n := len(s.set.BackOff); n > 0 {
		i := min(max(attempt-1, 0), n-1)
		return s.set.BackOff[i]
	}
	return s.set.NakDelay
}

// progressInterval is how often a running handler's message is marked in
// progress: half the time after which the server would redeliver it.
func (s *Subscriber) progressInterval() time.Duration {
	wait := s.set.AckWait
	if len(s.set.BackOff) > 0 && s.set.BackOff[0] < wait {
		wait = s.set.BackOff[0]
	}
	if wait < 200*time.Millisecond {
		wait = 200 * time.Millisecond
	}
	return wait / 2
}
