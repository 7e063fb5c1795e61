package main

import (
	"context"
	"encoding/binary"
	"slices"
	"sync/atomic"
	"time"
)

// tracker records, per message index, when its transaction committed and
// when it was handled.
type tracker struct {
	n          int
	committed  []atomic.Int64 // Unix ns after Commit returned
	handled    []atomic.Int64 // Unix ns in the handler
	nCommitted atomic.Int64
	nHandled   atomic.Int64
	dups       atomic.Int64
	maxPending atomic.Int64
	// pendingHalf and pendingEnd are the messages committed and not yet
	// handled when half of them, and all, were committed: pending rows
	// stay bounded when the second is not above the first.
	pendingHalf, pendingEnd atomic.Int64
	lastCommit              atomic.Int64
	all                     chan struct{} // closed once every message was handled
}

func newTracker(n int) *tracker {
	return &tracker{n: n, committed: make([]atomic.Int64, n), handled: make([]atomic.Int64, n), all: make(chan struct{})}
}

// payload is message idx's payload: its index, then filler up to size.
func payload(idx, size int) []byte {
	b := make([]byte, max(size, 8))
	binary.BigEndian.PutUint64(b, uint64(idx))
	for i := 8; i < len(b); i++ {
		b[i] = 'x'
	}
	return b
}

// commit records that the messages idxs were committed.
func (t *tracker) commit(idxs []int) {
	now := time.Now().UnixNano()
	for _, i := range idxs {
		t.committed[i].Store(now)
	}
	c := t.nCommitted.Add(int64(len(idxs)))
	t.lastCommit.Store(now)
	if half := int64(t.n / 2); c >= half && c-int64(len(idxs)) < half {
		t.pendingHalf.Store(c - t.nHandled.Load())
	}
	if c == int64(t.n) {
		t.pendingEnd.Store(c - t.nHandled.Load())
	}
}

// handle records that the message with payload p was handled.
func (t *tracker) handle(p []byte) {
	if len(p) < 8 {
		return
	}
	i := int(binary.BigEndian.Uint64(p))
	if i < 0 || i >= t.n {
		return
	}
	if !t.handled[i].CompareAndSwap(0, time.Now().UnixNano()) {
		t.dups.Add(1)
		return
	}
	if t.nHandled.Add(1) == int64(t.n) {
		close(t.all)
	}
}

// sample keeps the most messages committed and not yet handled, every
// 5 ms until ctx is done.
func (t *tracker) sample(ctx context.Context) {
	tk := time.NewTicker(5 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		p := t.nCommitted.Load() - t.nHandled.Load()
		for {
			m := t.maxPending.Load()
			if p <= m || t.maxPending.CompareAndSwap(m, p) {
				break
			}
		}
	}
}

// latencies are the commit-to-handler times of every message, sorted
// (negative ones, a handler ahead of Commit's return, count as 0).
func (t *tracker) latencies() []time.Duration {
	l := make([]time.Duration, 0, t.n)
	for i := range t.n {
		c, h := t.committed[i].Load(), t.handled[i].Load()
		if c == 0 || h == 0 {
			continue
		}
		l = append(l, time.Duration(max(h-c, 0)))
	}
	slices.Sort(l)
	return l
}

// lastHandled is the latest handling time.
func (t *tracker) lastHandled() int64 {
	var m int64
	for i := range t.n {
		m = max(m, t.handled[i].Load())
	}
	return m
}

// quantile of sorted durations.
func quantile(l []time.Duration, q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	return l[min(int(q*float64(len(l))), len(l)-1)]
}
