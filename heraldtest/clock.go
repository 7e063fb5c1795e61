package heraldtest

import (
	"container/heap"
	"sync"
	"time"
)

// Clock is a fake clock that moves only when the test advances it
// (Advance, AdvanceTo) or when Drain jumps to the harness's next timer.
// Redelivery delays, delayed messages (publisher.PublishAt,
// PublishAfter) and timed outages (DownFor) of a harness run on its
// Clock. It has the shape of the time package's AfterFunc, so code that
// takes a clock seam (Now, AfterFunc) can run on it too. Its methods are
// safe for concurrent use.
//
// A harness's Clock starts at the real time the harness was opened (no
// monotonic reading), because a delivery time reaches the harness as a
// time, computed by the publisher from real time: PublishAfter(d) asks
// for time.Now()+d, which the harness compares with its Clock. See
// Harness.Publications for stepping to it exactly.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers timerHeap
}

// NewClock returns a Clock set to start. A Clock's times have no
// monotonic clock reading (time.Time.Round(0)): they compare as wall
// clock times with any other.
func NewClock(start time.Time) *Clock { return &Clock{now: start.Round(0)} }

// Timer is a timer of a Clock, made by AfterFunc.
type Timer struct {
	c     *Clock
	when  time.Time
	seq   uint64
	f     func()
	index int // in the heap; -1 once fired or stopped
}

// Now is the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc calls f, in the goroutine that advances the clock, once the
// clock reached Now()+d (at once, in the next Advance, for d <= 0).
func (c *Clock) AfterFunc(d time.Duration, f func()) *Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.add(c.now.Add(max(d, 0)), f)
}

// at calls f once the clock reached t (in the next Advance when it has
// already): AfterFunc with a time, read against the clock under its lock.
func (c *Clock) at(t time.Time, f func()) *Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Before(c.now) {
		t = c.now
	}
	return c.add(t, f)
}

// add makes a timer for when; c.mu is held.
func (c *Clock) add(when time.Time, f func()) *Timer {
	c.seq++
	t := &Timer{c: c, when: when, seq: c.seq, f: f}
	heap.Push(&c.timers, t)
	return t
}

// Stop prevents the timer from firing; it reports whether it did (false
// when the timer fired or was stopped already).
func (t *Timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.c.timers, t.index)
	return true
}

// Advance moves the clock forward by d, firing the timers due on the way
// in order of their times (equal times in the order they were made), each
// with the clock set to its time. It does not wait for what the timers
// start (a redelivered message's handler): call Harness.Idle or Drain
// for that.
func (c *Clock) Advance(d time.Duration) { c.AdvanceTo(c.Now().Add(d)) }

// AdvanceTo moves the clock forward to t (never back), firing the timers
// due on the way as Advance does.
func (c *Clock) AdvanceTo(t time.Time) {
	t = t.Round(0)
	for {
		c.mu.Lock()
		if len(c.timers) == 0 || c.timers[0].when.After(t) {
			if t.After(c.now) {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		next := heap.Pop(&c.timers).(*Timer)
		if next.when.After(c.now) {
			c.now = next.when
		}
		c.mu.Unlock()
		next.f()
	}
}

// timerHeap orders timers by time, then by creation.
type timerHeap []*Timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
