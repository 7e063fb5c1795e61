package subscriber

import (
	"errors"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/backoff"
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

// redeliver is the one place a failed delivery's redelivery is decided,
// after its n-th failure (n = attempt):
//
//   - RedeliverLocal (Kafka, mem): the subscriber handles it again itself
//     after the delay; its key stays busy meanwhile, so later messages of
//     the key wait (order kept). It stays unsettled (uncommitted).
//   - RedeliverBroker with a native delay (JetStream): Nack with the delay.
//   - RedeliverBroker without (RabbitMQ): held unsettled for the delay,
//     then Nack; its key is free meanwhile.
//
// It reports whether the delivery is held for a local redelivery.
func (r *run) redeliver(it item, err error, attempt int, stop <-chan struct{}) bool {
	caps := r.sub.caps
	n := attempt
	if caps.Redelivery == adapters.RedeliverBroker && !caps.CountsAttempts {
		n = r.fails.add(it.d.Msg.UUID)
	}
	delay := r.failed(it.d.Msg, err, n)
	switch {
	case caps.Redelivery == adapters.RedeliverLocal:
		r.held.after(delay, func() {
			if !r.keys.redispatch(it, stop) {
				return
			}
		})
		return true
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
	return false
}

// failed logs a failed handler and returns the redelivery delay for the
// n-th failure of msg.
func (r *run) failed(msg *herald.Message, err error, n int) time.Duration {
	log := r.sub.opts.logger
	if d, ok := herald.RetryDelay(err); ok {
		log.Debug("herald: handler asked for a delayed redelivery", r.attrs("message_id", msg.UUID, "error", err, "delay", d)...)
		return d
	}
	if herald.IsPermanent(err) {
		d := backoff.Exp(n, permanentBase, permanentMax)
		perr := r.sub.errorf(r.topic, errors.Join(err, errors.New("no dead-letter middleware took it: it is kept and redelivered in "+d.String()+"; add middleware.DeadLetter to park such messages")))
		log.Error("herald: handler returned a permanent error and nothing parked the message", r.attrs("message_id", msg.UUID, "attempt", n, "error", err, "redeliver_in", d)...)
		r.hook(perr)
		return d
	}
	d := backoff.Exp(n, retryBase, retryMax)
	var panicked *herald.PanicError
	if !errors.As(err, &panicked) && r.warnNow() { // a panic was logged already
		log.Warn("herald: handler failed; the message will be redelivered", r.attrs("message_id", msg.UUID, "attempt", n, "error", err, "redeliver_in", d, "similar_warnings_suppressed", r.takeQuiet())...)
	}
	return d
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

// holds are the deliveries held for their redelivery delay: one timer
// each (nacks are rare), all stopped when the run stops; the held
// deliveries then stay unsettled and the stream releases them on Close.
type holds struct {
	mu      sync.Mutex
	stopped bool
	timers  map[*time.Timer]struct{}
	running sync.WaitGroup // callbacks under way
}

// after runs fn after d unless the run stops first.
func (h *holds) after(d time.Duration, fn func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	if h.timers == nil {
		h.timers = map[*time.Timer]struct{}{}
	}
	h.running.Add(1)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		defer h.running.Done()
		h.mu.Lock()
		delete(h.timers, t)
		stopped := h.stopped
		h.mu.Unlock()
		if !stopped {
			fn()
		}
	})
	h.timers[t] = struct{}{}
}

// stop cancels the timers not yet fired.
func (h *holds) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	for t := range h.timers {
		if t.Stop() {
			h.running.Done()
		}
	}
	h.timers = nil
}

// wait waits for callbacks that fired before stop.
func (h *holds) wait() { h.running.Wait() }

// failures counts recent failures per message ID, for backends that
// redeliver through the broker without counting deliveries. It is
// bounded: when full it starts over, which only shortens the next delays.
type failures struct {
	mu sync.Mutex
	n  map[string]int
}

const maxTracked = 10000

func (f *failures) add(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil || len(f.n) >= maxTracked {
		f.n = make(map[string]int)
	}
	f.n[id]++
	return f.n[id]
}

func (f *failures) get(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[id]
}

func (f *failures) forget(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.n, id)
}
