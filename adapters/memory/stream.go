package memory

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// stream is one member of a group: it takes up to its window of
// messages from the group's queue before any is settled.
type stream struct {
	s      *subscription
	g      *group
	drop   func() // removes a private group
	topic  string
	window int
	free   chan struct{} // a full window got a free slot
	done   chan struct{} // closed by Close

	mu        sync.Mutex
	closed    bool
	seq       uint64
	unsettled map[uint64]*herald.Message
	taken     []*herald.Message // Receive's scratch
}

func (st *stream) closedErr() error { return closedError(opSubscribe, st.topic) }

// Receive implements adapters.Stream.
func (st *stream) Receive(ctx context.Context, buf []adapters.Received) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	for {
		st.mu.Lock()
		closed, room := st.closed, st.window-len(st.unsettled)
		st.mu.Unlock()
		if closed {
			return 0, st.closedErr()
		}
		var wait <-chan struct{}
		if room <= 0 {
			wait = st.free
		} else {
			room = min(room, len(buf))
			if cap(st.taken) < room {
				st.taken = make([]*herald.Message, room)
			}
			var n int
			n, wait = st.g.take(st.taken[:room])
			if n > 0 {
				return st.hand(buf, n)
			}
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-st.done:
			return 0, st.closedErr()
		}
	}
}

// hand records the n taken messages as unsettled and fills buf.
func (st *stream) hand(buf []adapters.Received, n int) (int, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		st.g.putFront(slices.Clone(st.taken[:n]))
		clear(st.taken[:n])
		return 0, st.closedErr()
	}
	for i, m := range st.taken[:n] {
		st.seq++
		st.unsettled[st.seq] = m
		buf[i] = adapters.Received{Msg: m, Key: herald.Key(m), Token: adapters.Token{Seq: st.seq}}
	}
	clear(st.taken[:n])
	return n, nil
}

// settle removes t; it returns its message, or nil if it was settled
// already (or by Close).
func (st *stream) settle(t adapters.Token) *herald.Message {
	st.mu.Lock()
	m, ok := st.unsettled[t.Seq]
	if !ok || st.closed {
		st.mu.Unlock()
		return nil
	}
	delete(st.unsettled, t.Seq)
	wasFull := len(st.unsettled) == st.window-1
	st.mu.Unlock()
	if wasFull {
		select {
		case st.free <- struct{}{}:
		default:
		}
	}
	return m
}

// Ack implements adapters.Stream.
func (st *stream) Ack(t adapters.Token) { st.settle(t) }

// Nack implements adapters.Stream. The facade redelivers on this bus
// itself (RedeliverLocal) and does not call it; a nacked message goes
// back to the head of the group's queue.
func (st *stream) Nack(t adapters.Token, _ time.Duration) {
	if m := st.settle(t); m != nil {
		st.g.putFront([]*herald.Message{m})
	}
}

// Valid implements adapters.Stream: a delivery is valid until Close.
func (st *stream) Valid(t adapters.Token) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	_, ok := st.unsettled[t.Seq]
	return ok && !st.closed
}

// Close implements adapters.Stream: the unsettled messages go back to
// the head of the group's queue, in delivery order.
func (st *stream) Close(context.Context) error {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return nil
	}
	st.closed = true
	seqs := make([]uint64, 0, len(st.unsettled))
	for seq := range st.unsettled {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	back := make([]*herald.Message, len(seqs))
	for i, seq := range seqs {
		back[i] = st.unsettled[seq]
	}
	clear(st.unsettled)
	st.mu.Unlock()
	close(st.done)
	st.g.putFront(back)
	st.drop()
	st.s.mu.Lock()
	delete(st.s.streams, st)
	st.s.mu.Unlock()
	return nil
}
