package kafka

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"
)

// offsets is the watermark of one partition assignment: the records
// polled from it, in offset order (gaps allowed: compacted and
// transaction records are skipped), settled in any order. The commit
// offset is the offset after the longest settled prefix, with the leader
// epoch of that prefix's last record: Kafka's consumers commit the epoch
// of the record they consumed, and franz-go refuses to move a commit to
// a lower epoch (a mark with epoch -1 after a commit carrying a real one
// is never committed). It is not safe for concurrent use.
type offsets struct {
	recs []offsetRec // polled, not yet below the watermark, increasing
	head int         // first live index of recs
}

type offsetRec struct {
	off   int64
	epoch int32
	state uint8 // polled, released or settled
}

// States of an offsetRec.
const (
	recPolled   uint8 = iota // polled, queued or handed out
	recReleased              // handed out and nacked: out of the window, still holding the commit
	recSettled               // acked
)

// add records a polled record. off must be greater than every offset
// added before.
func (w *offsets) add(off int64, epoch int32) {
	if w.head > 0 && w.head >= len(w.recs)/2 {
		n := copy(w.recs, w.recs[w.head:])
		clear(w.recs[n:])
		w.recs, w.head = w.recs[:n], 0
	}
	w.recs = append(w.recs, offsetRec{off: off, epoch: epoch})
}

// find returns the index of off in recs, or -1.
func (w *offsets) find(off int64) int {
	live := w.recs[w.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i].off >= off })
	if i == len(live) || live[i].off != off {
		return -1
	}
	return w.head + i
}

// settle marks off acked. out reports whether off was in the window
// (polled, not yet released or settled). When the settled prefix grew,
// next is the commit offset (after the prefix, with the epoch of its last
// record) and advanced is true.
func (w *offsets) settle(off int64) (out bool, next kgo.EpochOffset, advanced bool) {
	i := w.find(off)
	if i < 0 || w.recs[i].state == recSettled {
		return false, next, false
	}
	out = w.recs[i].state == recPolled
	w.recs[i].state = recSettled
	for w.head < len(w.recs) && w.recs[w.head].state == recSettled {
		r := w.recs[w.head]
		next, advanced = kgo.EpochOffset{Epoch: r.epoch, Offset: r.off + 1}, true
		w.head++
	}
	return out, next, advanced
}

// release takes off out of the window without settling it: the commit
// stays behind it. It reports whether off was in the window.
func (w *offsets) release(off int64) bool {
	i := w.find(off)
	if i < 0 || w.recs[i].state != recPolled {
		return false
	}
	w.recs[i].state = recReleased
	return true
}

// pending is how many records are not below the watermark.
func (w *offsets) pending() int { return len(w.recs) - w.head }
