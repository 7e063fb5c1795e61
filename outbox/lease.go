package outbox

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// held is the set of rows a relay holds leased: claimed and not yet
// settled (marked or given back), with the local time before which each
// lease surely holds (a lower bound of its end on the database's clock).
type held struct {
	mu   sync.Mutex
	rows map[int64]time.Time
}

func newHeld() *held { return &held{rows: map[int64]time.Time{}} }

// add records rows leased until until.
func (h *held) add(rows []row, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range rows {
		h.rows[w.seq] = until
	}
}

// remove forgets row seq: it is being settled.
func (h *held) remove(seq int64) {
	h.mu.Lock()
	delete(h.rows, seq)
	h.mu.Unlock()
}

// valid reports whether the lease on row seq surely holds now.
func (h *held) valid(seq int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	until, ok := h.rows[seq]
	return ok && time.Now().Before(until)
}

// seqs returns the rows held whose lease was not lost.
func (h *held) seqs() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := make([]int64, 0, len(h.rows))
	for seq, until := range h.rows {
		if !until.IsZero() {
			s = append(s, seq)
		}
	}
	return s
}

// renewed sets the lease of the rows renewed (got) to until; it returns
// how many of asked, still held, were not renewed: lost (their lease
// expired and another relay claimed them), they are neither published
// nor renewed any more, and stay held until settled.
func (h *held) renewed(asked []int64, got map[int64]bool, until time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	lost := 0
	for _, seq := range asked {
		if _, ok := h.rows[seq]; !ok {
			continue // settled meanwhile
		}
		if got[seq] {
			h.rows[seq] = until
			continue
		}
		lost++
		h.rows[seq] = time.Time{} // not to be published any more
	}
	return lost
}

// renewEvery is how often the leases of the rows in flight are renewed:
// a third of the lease, so that two renewals may fail before one expires.
func (r *Relay) renewEvery() time.Duration { return r.lease / 3 }

// renewLoop renews the leases of the rows held every renewEvery, until
// stop is closed.
func (r *Relay) renewLoop(ctx context.Context, h *held, stop <-chan struct{}, fail func(error)) {
	t := time.NewTicker(r.renewEvery())
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if err := r.renew(ctx, h); err != nil {
			fail(err)
		}
	}
}

// renew extends the leases of the rows held to a lease from now. A row
// whose lease was lost (it expired and another relay claimed it) is
// reported: it may be sent twice.
func (r *Relay) renew(ctx context.Context, h *held) error {
	seqs := h.seqs()
	d := r.s.dialect
	for len(seqs) > 0 {
		n := min(len(seqs), maxInsert)
		start := time.Now()
		q, args := d.renew(r.s.table, r.owner, start, r.lease, seqs[:n])
		got, err := r.renewed(ctx, q, args)
		if err != nil {
			return fmt.Errorf("outbox: renew the lease of %d rows of %s: %w", n, r.s.table, err)
		}
		if lost := h.renewed(seqs[:n], got, start.Add(r.lease)); lost > 0 {
			return fmt.Errorf("outbox: lost the lease of %d rows of %s before the broker answered (the relay was held up longer than the lease, WithLease): another relay may send them too", lost, r.s.table)
		}
		seqs = seqs[n:]
	}
	return nil
}

// renewed runs the renewal q and returns the rows it renewed.
func (r *Relay) renewed(ctx context.Context, q string, args []any) (map[int64]bool, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	var got map[int64]bool
	err := r.s.contend(ctx, q, func(st stmt) error {
		got = map[int64]bool{}
		rows, err := st.QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				return err
			}
			got[seq] = true
		}
		if err := rows.Close(); err != nil {
			return err
		}
		return rows.Err()
	})
	return got, err
}
