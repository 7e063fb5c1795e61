package chaos

import (
	"sync"
	"time"

	"github.com/heraldkit/herald/internal/faultkit"
)

// tally counts messages by ID: when each was sent and acked (Publish
// returned nil), and each delivery to a consumer process.
type tally struct {
	mu       sync.Mutex
	changed  faultkit.Signal // signalled on every delivery
	msgs     []msgRecord     // by sequence number
	pubErrs  int
	lastErr  string
	unknown  int // deliveries of IDs the harness did not send
	consumed int // distinct messages delivered at least once
}

type msgRecord struct {
	key    int
	sent   time.Time // Publish called
	acked  time.Time // Publish returned nil; zero: not acked
	first  time.Time // first delivery; zero: never delivered
	copies int       // deliveries
}

func newTally() *tally { return &tally{changed: faultkit.NewSignal()} }

// send registers message seq (its sequence number) with key, sent now.
func (t *tally) send(seq, key int) {
	t.mu.Lock()
	for len(t.msgs) <= seq {
		t.msgs = append(t.msgs, msgRecord{})
	}
	t.msgs[seq].key = key
	t.msgs[seq].sent = time.Now()
	t.mu.Unlock()
}

// result records Publish's return for seq.
func (t *tally) result(seq int, err error) {
	t.mu.Lock()
	if err == nil {
		t.msgs[seq].acked = time.Now()
	} else {
		t.pubErrs++
		t.lastErr = err.Error()
	}
	t.mu.Unlock()
}

// delivered records a delivery of seq at time at.
func (t *tally) delivered(seq int, at time.Time) {
	t.mu.Lock()
	if seq < 0 || seq >= len(t.msgs) || t.msgs[seq].sent.IsZero() {
		t.unknown++
	} else {
		m := &t.msgs[seq]
		m.copies++
		if m.copies == 1 {
			m.first = at
			t.consumed++
		}
	}
	t.mu.Unlock()
	t.changed.Notify()
}

// missing returns how many acked messages were not delivered yet.
func (t *tally) missing() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for i := range t.msgs {
		if !t.msgs[i].acked.IsZero() && t.msgs[i].copies == 0 {
			n++
		}
	}
	return n
}

// Figures are one case's counts and times.
type Figures struct {
	Sent       int     `json:"sent"`  // Publish calls (one message each)
	Acked      int     `json:"acked"` // Publish returned nil
	PubErrors  int     `json:"publish_errors"`
	Consumed   int     `json:"consumed"`          // distinct messages delivered
	Lost       int     `json:"lost"`              // acked, never delivered: must be 0
	Duplicates int     `json:"duplicates"`        // deliveries beyond the first
	Unacked    int     `json:"unacked_delivered"` // delivered though Publish failed
	Unknown    int     `json:"unknown"`           // deliveries of IDs not sent by this case
	FirstSec   float64 `json:"first_s"`           // recovery until the first delivery after it; -1: none
	ResumeSec  float64 `json:"resume_s"`          // recovery until every key flows again; -1: never
	MaxDelay   float64 `json:"max_delay_s"`       // largest ack-to-first-delivery time
	LastError  string  `json:"last_publish_error,omitempty"`
}

// figures computes the counts; recovered is the moment the fault ended
// (broker ready again, proxy up, consumer killed): resume is the time from
// it until each key sent after it had a message sent after it delivered.
func (t *tally) figures(recovered time.Time) Figures {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := Figures{PubErrors: t.pubErrs, LastError: t.lastErr, Unknown: t.unknown, Consumed: t.consumed}
	firstAfter := map[int]time.Time{}
	var firstAny time.Time // first delivery (of any message) after recovered
	keys := map[int]bool{}
	for i := range t.msgs {
		m := &t.msgs[i]
		if m.sent.IsZero() {
			continue
		}
		f.Sent++
		if !recovered.IsZero() && !m.sent.Before(recovered) {
			keys[m.key] = true
		}
		if m.copies > 1 {
			f.Duplicates += m.copies - 1
		}
		if m.acked.IsZero() {
			if m.copies > 0 {
				f.Unacked++
			}
		} else {
			f.Acked++
			if m.copies == 0 {
				f.Lost++
			} else if d := m.first.Sub(m.acked).Seconds(); d > f.MaxDelay {
				f.MaxDelay = d
			}
		}
		if m.copies > 0 && !recovered.IsZero() && !m.first.Before(recovered) && (firstAny.IsZero() || m.first.Before(firstAny)) {
			firstAny = m.first
		}
		if m.copies > 0 && !recovered.IsZero() && !m.sent.Before(recovered) {
			if cur, ok := firstAfter[m.key]; !ok || m.first.Before(cur) {
				firstAfter[m.key] = m.first
			}
		}
	}
	f.ResumeSec, f.FirstSec = -1, -1
	if !firstAny.IsZero() {
		f.FirstSec = firstAny.Sub(recovered).Seconds()
	}
	if !recovered.IsZero() && len(firstAfter) == len(keys) && len(keys) > 0 {
		var last time.Time
		for _, at := range firstAfter {
			if at.After(last) {
				last = at
			}
		}
		f.ResumeSec = max(0, last.Sub(recovered).Seconds())
	}
	return f
}
