package main

import "sync"

// Ledger makes saga steps idempotent: it records the result of each step
// of each order, keyed by order ID and step name, and runs a step's effect
// only when no result is recorded yet. A redelivered event (the broker's
// at-least-once delivery, or a retry after a failure that followed the
// effect) finds the result and only repeats what follows the effect
// (publishing the next event, which the next step dedupes in turn).
//
// This ledger is in memory, per process. A real service keeps it in its
// database, written in the same transaction as the effect (a table with a
// unique (order_id, step) key), so it also survives restarts and is
// shared by the processes of a consumer group.
type Ledger struct {
	mu      sync.Mutex
	results map[ledgerKey]string
	running map[ledgerKey]chan struct{}
}

type ledgerKey struct{ order, step string }

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{results: map[ledgerKey]string{}, running: map[ledgerKey]chan struct{}{}}
}

// Once runs effect for (order, step) unless a result is recorded, and
// records its result when it succeeds. It returns the result and whether
// this call applied the effect. A failed effect records nothing, so the
// next delivery runs it again. Two deliveries of one step at once run the
// effect once: the second waits for the first.
func (l *Ledger) Once(order, step string, effect func() (string, error)) (result string, applied bool, err error) {
	k := ledgerKey{order, step}
	for {
		l.mu.Lock()
		if r, ok := l.results[k]; ok {
			l.mu.Unlock()
			return r, false, nil
		}
		wait, busy := l.running[k]
		if !busy {
			break // still locked
		}
		l.mu.Unlock()
		<-wait
	}
	done := make(chan struct{})
	l.running[k] = done
	l.mu.Unlock()

	r, err := effect()

	l.mu.Lock()
	delete(l.running, k)
	if err == nil {
		l.results[k] = r
	}
	l.mu.Unlock()
	close(done)
	return r, err == nil, err
}
