package heraldtest

import (
	"container/heap"
	"time"

	"github.com/heraldkit/herald"
)

// scheduled is a delayed message (SendOptions.At) held on the harness's clock
// until its delivery time.
type scheduled struct {
	topic string
	msg   *herald.Message // the harness's copy
	at    time.Time       // the delivery time asked for
	seq   uint64          // send order, for equal times
	timer *Timer          // fires at at (or, made when the clock was past at, at once)
	pub   *publication    // its record: released when queued
	index int             // in bus.schedule; -1 once released
}

// scheduleAt holds m for name until the clock reaches at; a time the
// clock has reached is released at once, after the held messages due by
// then (so that equal times keep their send order even while the clock
// is being advanced); b.mu is held.
func (b *bus) scheduleAt(name string, m *herald.Message, at time.Time, p *publication) {
	b.schedSeq++
	s := &scheduled{topic: name, msg: clone(m), at: at, seq: b.schedSeq, pub: p, index: -1}
	heap.Push(&b.schedule, s)
	if now := b.clock.Now(); !at.After(now) {
		b.releaseDue(now)
		return
	}
	s.timer = b.clock.at(at, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if !b.closed {
			b.releaseDue(b.clock.Now())
		}
	})
	b.notify()
}

// releaseDue queues the held messages whose time is not after now, by
// delivery time and, for equal times, in send order; b.mu is held.
func (b *bus) releaseDue(now time.Time) {
	for len(b.schedule) > 0 && !b.schedule[0].at.After(now) {
		s := heap.Pop(&b.schedule).(*scheduled)
		if s.timer != nil {
			s.timer.Stop() // false when it is the one firing
		}
		s.pub.released = true
		b.put(s.topic, s.msg)
	}
}

// nextScheduled is the earliest time a held message waits for on the
// clock (its timer's); b.mu is held.
func (b *bus) nextScheduled() (time.Time, bool) {
	var due time.Time
	for _, s := range b.schedule {
		if s.timer != nil && (due.IsZero() || s.timer.when.Before(due)) {
			due = s.timer.when
		}
	}
	return due, !due.IsZero()
}

// dropSchedule drops the held messages: the harness closed; b.mu is held.
func (b *bus) dropSchedule() {
	for _, s := range b.schedule {
		if s.timer != nil {
			s.timer.Stop()
		}
	}
	b.schedule = nil
}

// scheduleHeap orders held messages by delivery time, then send order.
type scheduleHeap []*scheduled

func (h scheduleHeap) Len() int { return len(h) }
func (h scheduleHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h scheduleHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *scheduleHeap) Push(x any) {
	s := x.(*scheduled)
	s.index = len(*h)
	*h = append(*h, s)
}
func (h *scheduleHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	s.index = -1
	*h = old[:len(old)-1]
	return s
}
