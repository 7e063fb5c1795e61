package outbox

import (
	"context"
	"fmt"
	"time"
)

// Stats is what a relay reports about its outbox. Relayed and Failures
// only grow: relayed/s is the difference of two readings of Relayed over
// the time between them (see the example of Relay.Stats).
type Stats struct {
	Pending  int64         // rows due and not yet sent (all relays' and none's)
	Oldest   time.Duration // the age of the oldest row not yet sent (a delayed row's counts from its due time); 0 when none
	Delayed  int64         // delayed rows not yet due (Store.PublishAt), not counted in Pending
	InFlight int64         // rows this relay published and is waiting on
	Relayed  int64         // rows this relay marked sent since it was made
	Failures int64         // failures of this relay (queries, publishes, marks, lease renewals)
}

// Stats reads the outbox's pending rows and returns them with the
// relay's counters. When the read fails, the counters (InFlight,
// Relayed, Failures) are still set, with the error.
func (r *Relay) Stats(ctx context.Context) (Stats, error) {
	st := Stats{InFlight: r.inflight.Load(), Relayed: r.relayed.Load(), Failures: r.failures.Load()}
	var oldest any
	if err := r.s.db.QueryRowContext(ctx, r.s.dialect.pending(r.s.table)).Scan(&st.Pending, &oldest, &st.Delayed); err != nil {
		return st, fmt.Errorf("outbox: stats of %s: %w", r.s.table, err)
	}
	if t := r.s.dialect.dbTime(oldest); !t.IsZero() {
		st.Oldest = max(time.Since(t), 0)
	}
	return st, nil
}

// fail counts err, calls the OnError hook and logs it: at warn for the
// first failure of an outage, at debug for the rest.
func (r *Relay) fail(err error) {
	r.failures.Add(1)
	if r.onError != nil {
		r.hookMu.Lock()
		r.onError(err)
		r.hookMu.Unlock()
	}
	r.mu.Lock()
	first := !r.failing
	r.failing = true
	if !first {
		r.quiet++
	}
	r.mu.Unlock()
	if first {
		r.logger.Warn("outbox: relay failing; retrying (further failures at debug until it recovers)", "error", err)
	} else {
		r.logger.Debug("outbox: relay failure", "error", err)
	}
}

// recovered ends an outage: it logs how many failures it hid.
func (r *Relay) recovered() {
	r.mu.Lock()
	was, n := r.failing, r.quiet
	r.failing, r.quiet = false, 0
	r.mu.Unlock()
	if was {
		r.logger.Info("outbox: relay recovered", "failures_not_logged", n)
	}
}
