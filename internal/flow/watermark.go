// Package flow holds the message-path pieces shared by adapters: the
// watermark that turns out-of-order settlements into a contiguous prefix
// to acknowledge (a Kafka partition's commit offset, an AMQP channel's
// multiple-ack tag).
package flow

import "sort"

// Watermark tracks sequence numbers handed out in increasing order (gaps
// allowed: Kafka offsets skip over compacted or transaction records) and
// settled in any order. Done reports how far the settled prefix reaches:
// everything up to it may be acknowledged at once, and nothing beyond an
// unsettled number ever is. It is not safe for concurrent use.
type Watermark struct {
	seqs []uint64 // handed out, not yet below the watermark, increasing
	done []bool   // settled, parallel to seqs
	head int      // first live index of seqs/done
}

// Add records that seq was handed out. seq must be greater than every
// number added before.
func (w *Watermark) Add(seq uint64) {
	if w.head > 0 && w.head >= len(w.seqs)/2 {
		n := copy(w.seqs, w.seqs[w.head:])
		copy(w.done, w.done[w.head:])
		w.seqs, w.done, w.head = w.seqs[:n], w.done[:n], 0
	}
	w.seqs = append(w.seqs, seq)
	w.done = append(w.done, false)
}

// Done marks seq settled. When the settled prefix grew, it returns the
// highest number of it (every number added up to it is settled) and
// true; otherwise false. Settling a number that was never added, or twice,
// does nothing.
func (w *Watermark) Done(seq uint64) (upTo uint64, advanced bool) {
	live := w.seqs[w.head:]
	i := sort.Search(len(live), func(i int) bool { return live[i] >= seq })
	if i == len(live) || live[i] != seq {
		return 0, false
	}
	w.done[w.head+i] = true
	for w.head < len(w.seqs) && w.done[w.head] {
		upTo, advanced = w.seqs[w.head], true
		w.head++
	}
	return upTo, advanced
}

// Pending is how many added numbers are not below the watermark.
func (w *Watermark) Pending() int { return len(w.seqs) - w.head }

// Reset forgets everything (a partition revoked, a channel lost).
func (w *Watermark) Reset() { w.seqs, w.done, w.head = w.seqs[:0], w.done[:0], 0 }
