package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldkit/herald"
)

// purgeBatch bounds the records one DELETE removes, so that a purge of a
// large backlog holds no long lock and writes no huge transaction.
const purgeBatch = 10000

// purgeTimeout bounds a background purge.
const purgeTimeout = 5 * time.Minute

// purgeEvery is how often the middleware starts a background purge: a
// hundredth of the retention, between 1 s and 1 h.
func (in *Inbox) purgeEvery() time.Duration {
	return min(max(in.retention/100, time.Second), time.Hour)
}

// maybePurge starts a background purge when one is due and none runs.
func (in *Inbox) maybePurge() {
	if in.retention == 0 {
		return
	}
	now := time.Now()
	next := in.nextPurge.Load()
	if now.UnixNano() < next || !in.nextPurge.CompareAndSwap(next, now.Add(in.purgeEvery()).UnixNano()) {
		return
	}
	if !in.purging.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer in.purging.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), purgeTimeout)
		defer cancel()
		if _, err := in.Purge(ctx); err != nil {
			herald.DefaultLogger().Warn("outbox: inbox: deleting old records failed; tried again later", "group", in.group, "table", in.table, "error", err)
		}
	}()
}

// Purge deletes the group's records of messages handled longer ago than
// the retention (none when it is 0), in batches, and returns how many it
// deleted. The middleware calls it in the background; call it yourself to
// purge on your own schedule.
func (in *Inbox) Purge(ctx context.Context) (int64, error) {
	if in.retention == 0 {
		return 0, nil
	}
	var cutoff any = time.Now().Add(-in.retention).UnixMilli()
	if in.dialect.pg {
		cutoff = time.Now().Add(-in.retention)
	}
	d := in.dialect
	q := "DELETE FROM " + in.table + " WHERE (group_name, message_id) IN (SELECT group_name, message_id FROM " + in.table +
		" WHERE group_name = " + d.ph(1) + " AND handled_at < " + d.ph(2) + " LIMIT " + d.ph(3) + ")"
	var total int64
	for {
		res, err := in.db.ExecContext(ctx, q, in.group, cutoff, purgeBatch)
		if err != nil {
			return total, fmt.Errorf("outbox: inbox %s: delete records older than %v: %w", in.group, in.retention, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("outbox: inbox %s: delete records older than %v: %w", in.group, in.retention, err)
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}
