package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/heraldkit/herald"
)

// maxOpenBatches bounds the transactions (connections) a PostgreSQL relay
// keeps open with rows locked: claims wait for a batch to settle.
const maxOpenBatches = 8

// batch is the rows one claim locked on PostgreSQL, in the transaction
// kept open while they are in flight: the rows acknowledged are marked
// sent (or deleted) in it, those that failed held back for the retry
// delay, and it commits once every publish of the batch was answered. A
// relay that dies, or loses its connection, mid-batch leaves no lease
// behind: the database ends the transaction and the rows are ready again
// at once (those acknowledged are sent again: duplicates).
type batch struct {
	tx      *sql.Tx
	seqs    []int64 // every row locked
	waiting int     // publishes unanswered
	ok      []int64 // acknowledged
	failed  []int64 // publish failed
}

// locks is the set of a PostgreSQL relay's open batches, and of the rows
// acknowledged whose batch's transaction was lost, not yet marked (loose):
// the relay's claims leave both out.
type locks struct {
	mu    sync.Mutex
	open  map[*batch]struct{}
	loose []int64
}

// setLoose sets the rows acknowledged and not yet marked outside a batch.
func (l *locks) setLoose(seqs []int64) {
	l.mu.Lock()
	l.loose = append(l.loose[:0], seqs...)
	l.mu.Unlock()
}

func newLocks() *locks { return &locks{open: map[*batch]struct{}{}} }

func (l *locks) add(b *batch) {
	l.mu.Lock()
	l.open[b] = struct{}{}
	l.mu.Unlock()
}

func (l *locks) remove(b *batch) {
	l.mu.Lock()
	delete(l.open, b)
	l.mu.Unlock()
}

func (l *locks) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open)
}

// seqs returns the rows of every open batch, sorted.
func (l *locks) seqs() []int64 {
	l.mu.Lock()
	s := append([]int64(nil), l.loose...)
	for b := range l.open {
		s = append(s, b.seqs...)
	}
	l.mu.Unlock()
	slices.Sort(s)
	return s
}

// claimLocked claims up to n ready rows on PostgreSQL in a new transaction
// (rows locked, no lease written), publishes them and returns how many
// publishes it started (each sends one answer carrying the batch).
func (r *Relay) claimLocked(ctx context.Context, n int, answers chan<- answer) (int, error) {
	// The transaction outlives ctx: rows published while stopping are
	// still marked (database/sql rolls a transaction back when its
	// context ends).
	tx, err := r.s.db.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return 0, fmt.Errorf("outbox: claim rows of %s: %w", r.s.table, err)
	}
	rows, err := tx.QueryContext(ctx, r.s.dialect.claimLocked(r.s.table), claimLockedArgs(n, r.locks.seqs())...)
	if err != nil {
		tx.Rollback() //nolint:errcheck // the claim's error is the one to report
		return 0, fmt.Errorf("outbox: claim rows of %s: %w", r.s.table, err)
	}
	claimed, err := scanRows(rows)
	if err != nil {
		tx.Rollback() //nolint:errcheck // the claim's error is the one to report
		return 0, fmt.Errorf("outbox: claim rows of %s: %w", r.s.table, err)
	}
	if len(claimed) == 0 {
		return 0, tx.Rollback()
	}
	b := &batch{tx: tx, seqs: make([]int64, len(claimed))}
	for i, w := range claimed {
		b.seqs[i] = w.seq
	}
	r.locks.add(b)
	b.waiting = len(claimed)
	started := 0
	for i, w := range claimed {
		msg, err := w.message()
		if err == nil {
			seq := w.seq
			r.inflight.Add(1) // before done can be called
			err = r.pub.PublishAsync(ctx, w.topic, msg, func(_ *herald.Message, err error) {
				answers <- answer{seq: seq, err: err, b: b}
			})
			if err != nil {
				r.inflight.Add(-1)
			}
		}
		if err != nil {
			// Not taken: the rest of the batch is given back at its commit
			// (ready again at once), answered as not started.
			for _, x := range claimed[i:] {
				r.inflight.Add(1)
				answers <- answer{seq: x.seq, err: errNotStarted, b: b}
			}
			return started, fmt.Errorf("outbox: publish row %d of %s to %s: %w", w.seq, r.s.table, w.topic, err)
		}
		started++
	}
	return started, nil
}

// errNotStarted answers a row of a batch whose publish was not started:
// it is given back at the batch's commit.
var errNotStarted = errors.New("outbox: not published")

// answered records the answer a of its batch, and reports whether it was
// the batch's last.
func (r *Relay) answered(a answer) bool {
	r.batchMu.Lock()
	defer r.batchMu.Unlock()
	b := a.b
	switch {
	case a.err == nil:
		b.ok = append(b.ok, a.seq)
	case a.err == errNotStarted:
	default:
		b.failed = append(b.failed, a.seq)
	}
	b.waiting--
	return b.waiting == 0
}

// finish settles batch b, every publish of it answered: in its
// transaction it holds back the rows that failed for the retry delay,
// marks those acknowledged sent (or deletes them) and commits; it returns
// how many rows it marked. When that fails (the database refused the
// mark, the connection died, the commit failed) the transaction is rolled
// back and the rows acknowledged are returned as orphans: their locks
// are gone, and the relay marks them outside a transaction, after the
// retry delay if need be, leaving them out of its own claims meanwhile;
// so a database restart or a refused mark sends a row again only if
// another relay claims it first.
func (r *Relay) finish(ctx context.Context, b *batch, fail func(error)) (marked int, orphans []int64) {
	r.locks.remove(b)
	tx, t := b.tx, r.s.table
	if len(b.ok) == 0 && len(b.failed) == 0 {
		tx.Rollback() //nolint:errcheck // nothing was written
		return 0, nil
	}
	err := func() error {
		if len(b.failed) > 0 {
			q, args := retryLocked(t, r.retryDelay, b.failed)
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
		for ok := b.ok; len(ok) > 0; ok = ok[min(len(ok), maxInsert):] {
			q, args := r.s.dialect.mark(t, time.Now(), ok[:min(len(ok), maxInsert)], r.retention == 0)
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
		return tx.Commit()
	}()
	if err == nil {
		return len(b.ok), nil
	}
	tx.Rollback() //nolint:errcheck // the transaction is lost either way
	fail(fmt.Errorf("outbox: mark %d rows of %s sent (their locks are released; tried again outside the transaction, after the retry delay if need be): %w", len(b.ok), t, err))
	if len(b.failed) > 0 { // best effort: else they are tried again at once
		q, args := retryLocked(t, r.retryDelay, b.failed)
		r.s.db.ExecContext(ctx, q, args...) //nolint:errcheck // the failure was reported
	}
	return 0, b.ok
}
