package memory

import (
	"context"
	"sync"

	"github.com/heraldkit/herald"
)

// group is one consumer group's queue on one topic; its streams compete
// for the messages.
type group struct {
	limit int

	mu    sync.Mutex
	q     []*herald.Message // FIFO; q[0] is next
	ready chan struct{}     // closed (and replaced) when messages arrive
	room  chan struct{}     // closed (and replaced) when messages leave
}

func newGroup(limit int) *group {
	return &group{limit: limit, ready: make(chan struct{}), room: make(chan struct{})}
}

// put appends m, waiting while the queue is full until ctx ends or stop
// is closed (false then).
func (g *group) put(ctx context.Context, stop <-chan struct{}, m *herald.Message) error {
	for {
		g.mu.Lock()
		if len(g.q) < g.limit {
			g.q = append(g.q, m)
			g.wake()
			g.mu.Unlock()
			return nil
		}
		room := g.room
		g.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return herald.ErrClosed
		}
	}
}

// putFront puts ms back at the head of the queue, in order, whatever the
// limit (they were taken from it).
func (g *group) putFront(ms []*herald.Message) {
	if len(ms) == 0 {
		return
	}
	g.mu.Lock()
	g.q = append(append(make([]*herald.Message, 0, len(ms)+len(g.q)), ms...), g.q...)
	g.wake()
	g.mu.Unlock()
}

// wake tells waiting streams that messages arrived; g.mu is held.
func (g *group) wake() {
	close(g.ready)
	g.ready = make(chan struct{})
}

// take moves up to n messages into buf, or returns a channel closed when
// messages arrive.
func (g *group) take(buf []*herald.Message) (int, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.q) == 0 {
		return 0, g.ready
	}
	n := copy(buf, g.q)
	clear(g.q[:n])
	g.q = g.q[n:]
	close(g.room)
	g.room = make(chan struct{})
	return n, nil
}
