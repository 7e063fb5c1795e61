package faults

import (
	"strconv"
	"sync"
	"time"

	"github.com/heraldkit/herald/internal/faultkit"
)

// state is what became of a message's transaction.
type state uint8

const (
	open       state = iota // its transaction has not ended yet
	committed               // Commit returned nil
	rolledBack              // rolled back (the transaction or the savepoint it was written after), or its transaction failed before Commit
	inDoubt                 // Commit returned an error; resolved from the table at the end
)

// tally counts messages by ID (the decimal sequence number): what became
// of each message's transaction and when, and each delivery to the
// consumer.
type tally struct {
	mu      sync.Mutex
	changed faultkit.Signal // signalled on every delivery
	recs    []record        // by sequence number
	doubt   int             // messages whose Commit returned an error
	unknown int             // deliveries of IDs not written by this case
}

type record struct {
	st     state
	ended  time.Time // Commit or Rollback returned
	first  time.Time // first delivery; zero: never delivered
	copies int       // deliveries
}

func newTally() *tally { return &tally{changed: faultkit.NewSignal()} }

// alloc reserves n sequence numbers and returns the first.
func (t *tally) alloc(n int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	first := len(t.recs)
	t.recs = append(t.recs, make([]record, n)...)
	return first
}

// end records what became of the messages first..first+n-1.
func (t *tally) end(first, n int, st state) {
	now := time.Now()
	t.mu.Lock()
	for i := first; i < first+n; i++ {
		t.recs[i].st, t.recs[i].ended = st, now
	}
	if st == inDoubt {
		t.doubt += n
	}
	t.mu.Unlock()
}

// delivered records a delivery of the message id at time at.
func (t *tally) delivered(id string, at time.Time) {
	seq, err := strconv.Atoi(id)
	t.mu.Lock()
	if err != nil || seq < 0 || seq >= len(t.recs) {
		t.unknown++
	} else {
		r := &t.recs[seq]
		r.copies++
		if r.copies == 1 {
			r.first = at
		}
	}
	t.mu.Unlock()
	t.changed.Notify()
}

// missing returns how many committed messages were not delivered yet.
func (t *tally) missing() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for i := range t.recs {
		if t.recs[i].st == committed && t.recs[i].copies == 0 {
			n++
		}
	}
	return n
}

// deliveries counts every delivery so far.
func (t *tally) deliveries() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for i := range t.recs {
		n += t.recs[i].copies
	}
	return n + t.unknown
}

// resolve settles the messages in doubt from the table: stored means the
// transaction committed. It returns the rolled-back messages stored in
// the table (a database that kept a rolled-back row: must be none).
func (t *tally) resolve(stored func(seq int) bool) []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	var bad []int
	for i := range t.recs {
		r := &t.recs[i]
		switch {
		case r.st == inDoubt && stored(i):
			r.st = committed
		case r.st == inDoubt:
			r.st = rolledBack
		case r.st == rolledBack && stored(i):
			bad = append(bad, i)
		}
	}
	return bad
}

// Figures are one case's counts and times.
type Figures struct {
	Committed  int `json:"committed"`   // messages whose transaction committed (those in doubt found in the table included)
	RolledBack int `json:"rolled_back"` // messages rolled back, or whose transaction failed before its commit
	InDoubt    int `json:"in_doubt"`    // messages whose Commit returned an error (then resolved from the table)
	Delivered  int `json:"delivered"`   // distinct messages delivered
	Lost       int `json:"lost"`        // committed, never delivered: must be 0
	// RolledBackPublished are rolled-back messages delivered: must be 0.
	RolledBackPublished int `json:"rolled_back_published"`
	Duplicates          int `json:"duplicates"` // deliveries beyond the first
	Unknown             int `json:"unknown"`    // deliveries of IDs this case did not write
	// CatchUpSec is the longest, over the case's faults, time from a
	// fault's end until every message committed before that end was
	// delivered; -1 when one never was.
	CatchUpSec  float64 `json:"catch_up_s"`
	MaxDelaySec float64 `json:"max_delay_s"` // the longest commit-to-first-delivery time
	LostIDs     []int   `json:"lost_ids,omitempty"`
}

// figures computes the counts; ends are the moments the faults ended.
func (t *tally) figures(ends []time.Time) Figures {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := Figures{InDoubt: t.doubt, Unknown: t.unknown}
	latest := make([]time.Time, len(ends)) // per fault: the last first delivery of a message committed before its end
	never := make([]bool, len(ends))
	for i := range t.recs {
		r := &t.recs[i]
		if r.copies > 0 {
			f.Delivered++
			f.Duplicates += r.copies - 1
		}
		switch r.st {
		case committed:
			f.Committed++
			if r.copies == 0 {
				f.Lost++
				if len(f.LostIDs) < 20 {
					f.LostIDs = append(f.LostIDs, i)
				}
			} else if d := r.first.Sub(r.ended).Seconds(); d > f.MaxDelaySec {
				f.MaxDelaySec = d
			}
			for j, e := range ends {
				if !r.ended.Before(e) {
					continue
				}
				if r.copies == 0 {
					never[j] = true
				} else if r.first.After(latest[j]) {
					latest[j] = r.first
				}
			}
		case rolledBack, open:
			f.RolledBack++
			if r.copies > 0 {
				f.RolledBackPublished++
			}
		}
	}
	f.CatchUpSec = 0
	for j, e := range ends {
		if never[j] {
			f.CatchUpSec = -1
			break
		}
		if d := latest[j].Sub(e).Seconds(); d > f.CatchUpSec {
			f.CatchUpSec = d
		}
	}
	return f
}
