package outbox

import (
	"context"
	"fmt"
	"time"
)

// moveBatch bounds the delayed rows one statement moves into the outbox.
const moveBatch = 500

// lockedWait is how long a relay waits before it looks again at due rows
// that another relay is moving (locked, so skipped).
const lockedWait = 10 * time.Millisecond

// moveDue moves the delayed rows due now into the outbox, and returns
// when the relay should look again: the earliest due time left, or the
// poll interval from now if that is sooner (a delayed row committed
// meanwhile is learned of by then, or at a Notifier's wake-up). It
// never returns a time not after now, so the relay sleeps until it:
// a timer, not a busy poll.
func (r *Relay) moveDue(ctx context.Context) (time.Time, error) {
	now := time.Now()
	next, err := r.nextDue(ctx)
	if err != nil {
		return now.Add(r.retryDelay), err
	}
	if !next.IsZero() && !next.After(now) {
		for {
			n, err := r.move(ctx, now)
			if err != nil {
				return now.Add(r.retryDelay), err
			}
			if n < moveBatch {
				break
			}
		}
		if next, err = r.nextDue(ctx); err != nil {
			return now.Add(r.retryDelay), err
		}
		if !next.IsZero() && !next.After(now) { // another relay is moving them
			return now.Add(min(r.poll, lockedWait)), nil
		}
	}
	at := now.Add(r.poll)
	if !next.IsZero() && next.Before(at) {
		at = next
	}
	return at, nil
}

// nextDue returns the earliest due time of the delayed rows, zero when
// there are none.
func (r *Relay) nextDue(ctx context.Context) (time.Time, error) {
	var v any
	if err := r.s.db.QueryRowContext(ctx, r.s.dialect.nextDue(r.s.table)).Scan(&v); err != nil {
		return time.Time{}, fmt.Errorf("outbox: read the delayed rows of %s: %w", r.s.table, err)
	}
	return r.s.dialect.dbTime(v), nil
}

// move moves up to moveBatch delayed rows due at now into the outbox, in
// one transaction, and returns how many it moved.
func (r *Relay) move(ctx context.Context, now time.Time) (int, error) {
	d := r.s.dialect
	tx, err := r.s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("outbox: move due rows into %s: %w", r.s.table, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var moved int64
	for i, q := range d.moveDue(r.s.table) {
		res, err := tx.ExecContext(ctx, q, d.moveArgs(now, moveBatch)...)
		if err != nil {
			return 0, fmt.Errorf("outbox: move due rows into %s: %w", r.s.table, err)
		}
		if i == 0 {
			if moved, err = res.RowsAffected(); err != nil {
				return 0, fmt.Errorf("outbox: move due rows into %s: %w", r.s.table, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("outbox: move due rows into %s: %w", r.s.table, err)
	}
	return int(moved), nil
}

// timerAt returns a channel that receives at at (never when at is zero)
// and the function that stops its timer.
func timerAt(at time.Time) (<-chan time.Time, func() bool) {
	if at.IsZero() {
		return nil, func() bool { return false }
	}
	t := time.NewTimer(max(time.Until(at), 0))
	return t.C, t.Stop
}
