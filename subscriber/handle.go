package subscriber

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// handle runs the handler on one delivery and settles it by the
// handler's return value: nil acks it; an error redelivers it
// (redeliver). It reports whether the delivery is held for a local
// redelivery: then its key stays busy until it is handled again.
//
// A delivery that is no longer Valid (its partition was revoked, its
// channel is gone) is skipped: the broker hands it to its new owner.
func (r *run) handle(ctx context.Context, it item, stop <-chan struct{}) (held bool) {
	d := it.d
	if !it.st.Valid(d.Token) {
		return false
	}
	it.handled++
	attempt := r.attempt(it)
	err := r.process(ctx, d.Msg, attempt, d.Time)
	r.settleMu.RLock()
	defer r.settleMu.RUnlock()
	if r.detached {
		return false // the drain gave up on this handler; the message stays unsettled
	}
	if err == nil {
		if r.sub.caps.Redelivery == adapters.RedeliverBroker && !r.sub.caps.CountsAttempts {
			r.fails.forget(d.Msg.UUID)
		}
		it.st.Ack(d.Token)
		return false
	}
	return r.redeliver(it, err, attempt, stop)
}

// attempt is Delivery.Attempt for it: the broker's count where the
// backend keeps one (plus this subscriber's own redeliveries of it),
// else this subscriber's count.
func (r *run) attempt(it item) int {
	caps := r.sub.caps
	switch {
	case caps.Redelivery == adapters.RedeliverLocal:
		return max(it.d.Attempt, 1) + it.handled - 1
	case caps.CountsAttempts && it.d.Attempt > 0:
		return it.d.Attempt
	default:
		return r.fails.get(it.d.Msg.UUID) + 1
	}
}

// process runs the handler chain on msg, delivered for the attempt-th
// time and published at at, and returns its result; a contradicting Ack
// or Nack by hand is logged.
func (r *run) process(ctx context.Context, msg *herald.Message, attempt int, at time.Time) error {
	r.inflight.Add(1)
	defer r.inflight.Add(-1)
	d, _ := herald.DeliveryFromContext(ctx)
	d.Attempt, d.Time = attempt, at
	ctx = herald.ContextWithDelivery(ctx, d)
	msg.SetContext(ctx)
	err := r.call(ctx, msg)
	r.checkManual(msg, err)
	return err
}

// checkManual logs a handler that settled its message by hand against
// its return value.
func (r *run) checkManual(msg *herald.Message, err error) {
	var by string
	select {
	case <-msg.Acked():
		if err != nil {
			by = "acked the message by hand but returned an error: the message is redelivered"
		}
	case <-msg.Nacked():
		if err == nil {
			by = "nacked the message by hand but returned nil: the message is acked"
		}
	default:
	}
	if by != "" {
		r.sub.opts.logger.Warn("herald: handler "+by+"; the return value settles a message, Ack and Nack by hand are ignored",
			r.attrs("message_id", msg.UUID, "error", err)...)
	}
}

// call runs the handler, turning a panic into an error.
func (r *run) call(ctx context.Context, msg *herald.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			stack := debug.Stack()
			r.sub.opts.logger.Error("herald: handler panicked", r.attrs("message_id", msg.UUID,
				"panic", fmt.Sprint(p), slog.String("stack", string(stack)))...)
			perr := &herald.PanicError{Value: p, Stack: stack}
			r.hook(r.sub.errorf(r.topic, fmt.Errorf("message %s: %w", msg.UUID, perr)))
			err = perr
		}
	}()
	return r.handler.Handle(ctx, msg)
}
