package memory

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/internal/wm"
)

// clock is the bus's time for delayed delivery: real time by default
// (realClock); a test harness may drive a bus with a clock of its own.
type clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d passed.
	AfterFunc(d time.Duration, f func()) stopper
}

// stopper stops a clock's pending call (time.Timer's Stop).
type stopper interface{ Stop() bool }

// realClock is the time package.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }

// scheduler holds a bus's delayed messages in delivery order until their
// time, with one pending clock call for the earliest. Nothing of it is
// durable: the messages end with the bus.
type scheduler struct {
	clock   clock
	deliver func(topic string, m *herald.Message) // to the topic's groups; may block

	fire sync.Mutex // held while due messages are delivered, in order

	mu      sync.Mutex
	q       delayQueue
	seq     uint64
	timer   stopper
	next    time.Time // when timer fires; zero without one
	stopped bool
}

// add holds m for topic until at.
func (s *scheduler) add(topic string, m *herald.Message, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.seq++
	heap.Push(&s.q, delayed{at: at, seq: s.seq, topic: topic, m: m})
	s.arm()
}

// arm makes the clock call for the earliest message; s.mu is held.
func (s *scheduler) arm() {
	if len(s.q) == 0 || s.stopped {
		return
	}
	at := s.q[0].at
	if s.timer != nil && !s.next.After(at) {
		return // the pending call comes first
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	s.next = at
	s.timer = s.clock.AfterFunc(at.Sub(s.clock.Now()), s.due)
}

// due delivers the messages whose time came, earliest first and in send
// order for equal times, then arms the clock for the next.
func (s *scheduler) due() {
	s.fire.Lock()
	defer s.fire.Unlock()
	s.mu.Lock()
	s.timer, s.next = nil, time.Time{}
	now := s.clock.Now()
	var ready []delayed
	for len(s.q) > 0 && !s.q[0].at.After(now) {
		ready = append(ready, heap.Pop(&s.q).(delayed))
	}
	s.arm()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		return
	}
	for _, d := range ready {
		s.deliver(d.topic, d.m)
	}
}

// stop drops the messages held: the bus ended.
func (s *scheduler) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.q = nil
}

// delayed is one message held by a scheduler.
type delayed struct {
	at    time.Time
	seq   uint64 // send order, for equal times
	topic string
	m     *herald.Message
}

// delayQueue is a min-heap of delayed messages by (at, seq).
type delayQueue []delayed

func (q delayQueue) Len() int { return len(q) }
func (q delayQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q delayQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *delayQueue) Push(x any)   { *q = append(*q, x.(delayed)) }
func (q *delayQueue) Pop() any {
	old := *q
	d := old[len(old)-1]
	old[len(old)-1] = delayed{}
	*q = old[:len(old)-1]
	return d
}

// deliverDelayed puts m into every group topic has now, as Send does,
// waiting while a queue is full until the bus ends.
func (b *bus) deliverDelayed(topic string, m *herald.Message) {
	for _, g := range b.groups(topic) {
		if g.put(context.Background(), b.done, wm.Copy(m)) != nil {
			return // the bus ended
		}
	}
}
