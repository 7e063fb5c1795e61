package natsx

import (
	"context"
	"errors"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald/adapters"
)

// run feeds out from the iterator until ctx ends or the subscriber closes.
// If the iterator ends by itself (its consumer was deleted, for example by
// an operator or a broker that lost its state), the consumer is created
// again and consuming resumes.
func (s *Subscriber) run(ctx context.Context, topic string, it jetstream.MessagesContext, out chan<- *message.Message) {
	defer s.wg.Done()
	defer close(out)
	for {
		err := s.consume(ctx, it, out)
		if s.stopping(ctx) || s.nc.IsClosed() {
			return
		}
		s.log.Warn("herald/nats: consuming stopped; re-creating the consumer", "topic", topic, "group", s.group, "err", err)
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.closing:
				return
			case <-time.After(time.Second):
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			it, err = s.iterator(cctx, topic, true)
			cancel()
			if err == nil {
				break
			}
			s.log.Warn("herald/nats: re-creating the consumer failed; retrying", "topic", topic, "group", s.group, "err", err)
		}
	}
}

// consume delivers the iterator's messages until it closes; it returns the
// last error the iterator reported.
func (s *Subscriber) consume(ctx context.Context, it jetstream.MessagesContext, out chan<- *message.Message) error {
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
		case <-s.closing:
		case <-finished:
		}
		it.Drain() // stop pulling; what is buffered comes out of Next, then it ends
	}()
	var last error
	for {
		raw, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return last
		}
		if err != nil {
			last = err
			continue
		}
		if s.stopping(ctx) {
			_ = raw.Nak() // back to the consumer at once, for another subscriber
			continue
		}
		s.deliver(ctx, raw, out)
	}
}

func (s *Subscriber) stopping(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	case <-s.closing:
		return true
	default:
		return false
	}
}

// deliver hands one message to the Watermill consumer and settles it.
func (s *Subscriber) deliver(ctx context.Context, raw jetstream.Msg, out chan<- *message.Message) {
	md, _ := raw.Metadata()
	fallback := ""
	if md != nil {
		fallback = jsFallbackID(md.Stream, md.Sequence.Stream)
	}
	msg := s.m.decode(raw.Headers(), raw.Data(), fallback)
	// The handler's context outlives Subscribe's, so a handler running when
	// the subscription stops can finish and be acked (drain).
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	msg.SetContext(mctx)
	if md != nil {
		adapters.SetDeliveryCount(msg, int(md.NumDelivered))
	}

	select {
	case out <- msg:
	case <-ctx.Done():
		_ = raw.Nak()
		return
	case <-s.closing:
		_ = raw.Nak()
		return
	}

	progress := time.NewTicker(s.progressInterval())
	defer progress.Stop()
	closing := s.closing
	var giveUp <-chan time.Time
	for {
		select {
		case <-msg.Acked():
			if err := raw.Ack(); err != nil {
				s.log.Debug("herald/nats: ack failed; the message will be redelivered", "id", msg.UUID, "err", err)
			}
			return
		case <-msg.Nacked():
			s.nak(msg, raw, md)
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
// (herald.RetryAfter), else after the configured nak_delay or backoff step.
func (s *Subscriber) nak(msg *message.Message, raw jetstream.Msg, md *jetstream.MsgMetadata) {
	if d, ok := adapters.NackDelay(msg); ok && d > 0 {
		_ = raw.NakWithDelay(d)
		return
	}
	delay := s.set.NakDelay
	if n := len(s.set.BackOff); n > 0 && md != nil {
		i := int(md.NumDelivered) - 1
		if i >= n {
			i = n - 1
		}
		if i < 0 {
			i = 0
		}
		delay = s.set.BackOff[i]
	}
	if delay > 0 {
		_ = raw.NakWithDelay(delay)
		return
	}
	_ = raw.Nak()
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
