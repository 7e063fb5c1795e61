package subscriber

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// Redelivery delays after a failed handler, growing with the message's
// failures: base·2^(n-1), capped. A permanent error waits longer: retrying
// cannot fix it, so without a dead-letter middleware the message is kept
// (never dropped) but redelivered rarely and logged every time.
const (
	retryBase     = 100 * time.Millisecond
	retryMax      = 10 * time.Second
	permanentBase = time.Second
	permanentMax  = 5 * time.Minute
)

// handle runs the handler on a message from a Watermill subscription
// and settles it by the handler's return value.
//
// The handler gets its own *herald.Message sharing msg's ID, payload and
// metadata: its Ack and Nack settle nothing, so a handler that acks by
// hand and then fails still has its message redelivered. (On the stream
// path the handler gets the delivery's message itself, whose Ack and Nack
// nobody listens to.)
func (r *run) handle(ctx context.Context, msg *message.Message) {
	attempt, counted := adapters.DeliveryCount(msg)
	view := message.NewMessage(msg.UUID, msg.Payload)
	view.Metadata = msg.Metadata
	err := r.process(ctx, view, attempt, counted)

	r.settleMu.RLock()
	defer r.settleMu.RUnlock()
	if r.detached {
		return // the drain gave up on this handler; the message stays unacked
	}
	if err == nil {
		r.fails.forget(msg.UUID)
		msg.Ack()
		return
	}
	adapters.SetNackDelay(msg, r.nackDelay(msg, err, attempt, counted))
	msg.Nack()
}

// process runs the handler chain on msg and returns its result; a
// contradicting Ack or Nack by hand is logged.
func (r *run) process(ctx context.Context, msg *message.Message, attempt int, counted bool) error {
	r.inflight.Add(1)
	defer r.inflight.Add(-1)
	if counted {
		d, _ := herald.DeliveryFromContext(ctx)
		d.Attempt = attempt
		ctx = herald.ContextWithDelivery(ctx, d)
	}
	msg.SetContext(ctx)
	err := r.call(ctx, msg)
	r.checkManual(msg, err)
	return err
}

// nackDelay counts a failure of msg and returns its redelivery delay.
func (r *run) nackDelay(msg *message.Message, err error, attempt int, counted bool) time.Duration {
	n := r.fails.add(msg.UUID)
	if counted && attempt > n {
		n = attempt
	}
	return r.failed(msg, err, n)
}

// failed logs a failed handler and returns the redelivery delay for the
// n-th failure of msg.
func (r *run) failed(msg *message.Message, err error, n int) time.Duration {
	log := r.sub.opts.logger
	if d, ok := herald.RetryDelay(err); ok {
		log.Debug("herald: handler asked for a delayed redelivery", r.attrs("message_id", msg.UUID, "error", err, "delay", d)...)
		return d
	}
	if herald.IsPermanent(err) {
		d := backoff(n, permanentBase, permanentMax)
		perr := r.errorf("message %s: %w (no dead-letter middleware took it: it is kept and redelivered in %v; add middleware.DeadLetter to park such messages)", msg.UUID, err, d)
		log.Error("herald: handler returned a permanent error and nothing parked the message", r.attrs("message_id", msg.UUID, "attempt", n, "error", err, "redeliver_in", d)...)
		r.hook(perr)
		return d
	}
	d := backoff(n, retryBase, retryMax)
	var panicked *herald.PanicError
	if !errors.As(err, &panicked) && r.warnNow() { // a panic was logged already
		log.Warn("herald: handler failed; the message will be redelivered", r.attrs("message_id", msg.UUID, "attempt", n, "error", err, "redeliver_in", d, "similar_warnings_suppressed", r.takeQuiet())...)
	}
	return d
}

// backoff is base·2^(n-1), at most max.
func backoff(n int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// warnNow rate-limits warnings about failing handlers to one a second per
// subscription, counting the ones it holds back.
func (r *run) warnNow() bool {
	r.warnMu.Lock()
	defer r.warnMu.Unlock()
	if now := time.Now(); now.Sub(r.lastWarn) >= time.Second {
		r.lastWarn = now
		return true
	}
	r.quiet++
	return false
}

func (r *run) takeQuiet() int {
	r.warnMu.Lock()
	defer r.warnMu.Unlock()
	n := r.quiet
	r.quiet = 0
	return n
}

// checkManual logs a handler that settled its message by hand against
// its return value.
func (r *run) checkManual(view *message.Message, err error) {
	var by string
	select {
	case <-view.Acked():
		if err != nil {
			by = "acked the message by hand but returned an error: the message is nacked"
		}
	case <-view.Nacked():
		if err == nil {
			by = "nacked the message by hand but returned nil: the message is acked"
		}
	default:
	}
	if by != "" {
		r.sub.opts.logger.Warn("herald: handler "+by+"; the return value settles a message, Ack and Nack by hand are ignored",
			r.attrs("message_id", view.UUID, "error", err)...)
	}
}

// call runs the handler, turning a panic into an error.
func (r *run) call(ctx context.Context, msg *message.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			stack := debug.Stack()
			r.sub.opts.logger.Error("herald: handler panicked", r.attrs("message_id", msg.UUID,
				"panic", fmt.Sprint(p), slog.String("stack", string(stack)))...)
			perr := &herald.PanicError{Value: p, Stack: stack}
			r.hook(r.errorf("message %s: %w", msg.UUID, perr))
			err = perr
		}
	}()
	return r.handler.Handle(ctx, msg)
}

// failures counts recent failures per message ID, for backends that do
// not count deliveries. It is bounded: when full it starts over, which
// only shortens the next delays.
type failures struct {
	any atomic.Bool // n is not empty: successes skip the lock otherwise
	mu  sync.Mutex
	n   map[string]int
}

const maxTracked = 10000

func (f *failures) add(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil || len(f.n) >= maxTracked {
		f.n = make(map[string]int)
	}
	f.n[id]++
	f.any.Store(true)
	return f.n[id]
}

func (f *failures) forget(id string) {
	if !f.any.Load() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.n, id)
	f.any.Store(len(f.n) > 0)
}
