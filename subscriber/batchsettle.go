package subscriber

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/backoff"
)

// handleBatch runs the batch handler on the valid deliveries of es and
// settles each by its result. A delivery no longer Valid is skipped, as
// in handle.
func (r *run) handleBatch(ctx context.Context, l *lane, es []entry) {
	items := make([]item, 0, len(es))
	msgs := make([]*herald.Message, 0, len(es))
	attempts := make([]int, 0, len(es))
	d, _ := herald.DeliveryFromContext(ctx)
	for _, e := range es {
		it := e.it
		if !it.st.Valid(it.d.Token) {
			continue
		}
		it.handled++
		a := r.attempt(it)
		md := d
		md.Attempt, md.Time = a, it.d.Time
		it.d.Msg.SetContext(herald.ContextWithDelivery(ctx, md))
		items = append(items, it)
		msgs = append(msgs, it.d.Msg)
		attempts = append(attempts, a)
	}
	if len(items) == 0 {
		return
	}
	b := herald.NewBatch(msgs)
	r.inflight.Add(int64(len(items)))
	err := r.callBatch(ctx, b)
	r.inflight.Add(-int64(len(items)))
	if err != nil {
		b.RetryAll(err)
	}
	r.settleMu.RLock()
	defer r.settleMu.RUnlock()
	if r.detached {
		return // the drain gave up on this batch; its messages stay unsettled
	}
	r.settleBatch(l, items, attempts, b)
}

// callBatch runs the batch handler chain, turning a panic into an error.
func (r *run) callBatch(ctx context.Context, b *herald.Batch) (err error) {
	defer func() {
		if p := recover(); p != nil {
			stack := debug.Stack()
			r.sub.opts.logger.Error("herald: batch handler panicked", r.attrs("messages", b.Len(),
				"panic", fmt.Sprint(p), slog.String("stack", string(stack)))...)
			perr := &herald.PanicError{Value: p, Stack: stack}
			r.hook(r.sub.errorf(r.topic, fmt.Errorf("batch of %d messages: %w", b.Len(), perr)))
			err = perr
		}
	}()
	return r.batch.handler.Handle(ctx, b)
}

// keyHold is the deliveries of one key held for a local redelivery, in
// order, and the delay of the first.
type keyHold struct {
	es    []entry
	delay time.Duration
}

// settleBatch settles items by b's results, in order: acks (dead-lettered
// ones too) go to the stream, retries are redelivered as redeliver does
// for one message. On a RedeliverLocal backend a key with a retried
// message is held: its later messages in the batch are retried with it,
// whatever their result, and its later deliveries wait in the lane until
// the held ones are handed out again, first.
func (r *run) settleBatch(l *lane, items []item, attempts []int, b *herald.Batch) {
	caps := r.sub.caps
	local := caps.Redelivery == adapters.RedeliverLocal
	var holds map[string]*keyHold
	var order []string // keys in the order they were held
	for i, it := range items {
		res := b.Result(i)
		key := it.d.Key
		if local && key != "" {
			if h, held := holds[key]; held {
				h.es = append(h.es, entry{it: it})
				if res.Outcome != herald.OutcomeRetry && res.Outcome != herald.OutcomeDeadLetter {
					r.sub.opts.logger.Debug("herald: message retried behind an earlier failed message of its key",
						r.attrs("message_id", it.d.Msg.UUID, "key", key, "result", res.Outcome.String())...)
				}
				continue
			}
		}
		switch res.Outcome {
		case herald.OutcomeAck, herald.OutcomeDeadLettered:
			if caps.Redelivery == adapters.RedeliverBroker && !caps.CountsAttempts {
				r.fails.forget(it.d.Msg.UUID)
			}
			it.st.Ack(it.d.Token)
			continue
		}
		n := attempts[i]
		if caps.Redelivery == adapters.RedeliverBroker && !caps.CountsAttempts {
			n = r.fails.add(it.d.Msg.UUID)
		}
		var delay time.Duration
		if res.Outcome == herald.OutcomeDeadLetter {
			delay = r.unparked(it.d.Msg, res.Err, n)
		} else {
			delay = r.failed(it.d.Msg, res.Err, n)
		}
		switch {
		case local && key != "":
			if holds == nil {
				holds = map[string]*keyHold{}
			}
			holds[key] = &keyHold{es: []entry{{it: it}}, delay: delay}
			order = append(order, key)
		case local:
			e := entry{it: it}
			r.held.after(delay, func() { e.at = time.Now(); l.add([]entry{e}, true) })
		case caps.NackDelay || delay <= 0:
			it.st.Nack(it.d.Token, delay)
		default:
			r.held.after(delay, func() {
				r.settleMu.RLock()
				defer r.settleMu.RUnlock()
				if !r.detached {
					it.st.Nack(it.d.Token, 0)
				}
			})
		}
	}
	for _, key := range order {
		h := holds[key]
		l.block(key)
		r.held.after(h.delay, func() {
			now := time.Now()
			for i := range h.es {
				h.es[i].at = now
			}
			l.unblock(key, h.es)
		})
	}
}

// unparked logs a message its batch handler asked to dead-letter that no
// dead-letter middleware parked, and returns its redelivery delay after
// its n-th failure: it is kept, like a permanent error with nothing to
// park it.
func (r *run) unparked(msg *herald.Message, err error, n int) time.Duration {
	d := backoff.Exp(n, permanentBase, permanentMax)
	perr := r.sub.errorf(r.topic, errors.Join(err, errors.New("no dead-letter middleware took it: it is kept and redelivered in "+d.String()+"; add middleware.BatchDeadLetter to park such messages")))
	r.sub.opts.logger.Error("herald: batch handler dead-lettered a message and nothing parked it", r.attrs("message_id", msg.UUID, "attempt", n, "error", err, "redeliver_in", d)...)
	r.hook(perr)
	return d
}
