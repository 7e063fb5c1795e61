package memory

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

var _ adapters.StreamSubscriber = (*subscriber)(nil)

// Stream implements adapters.StreamSubscriber: the stream is a member of
// the group like a Subscribe call, taking up to window messages from the
// group's queue before any is settled. A nack puts the message back at
// the end of the queue (after its delay, without blocking the others);
// Close puts back the unsettled ones. The bus does not count deliveries:
// Attempt is 0.
func (s *subscriber) Stream(ctx context.Context, topic string, window int) (adapters.Stream, error) {
	if topic == "" {
		return nil, opError(opSubscribe, topic, errors.New("topic is empty"))
	}
	if window < 1 {
		window = defaultWindow
	}
	if err := ctx.Err(); err != nil {
		return nil, opError(opSubscribe, topic, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, closedError(opSubscribe, topic)
	}
	if s.stop == nil {
		s.stop = make(chan struct{})
	}
	k := s.key(topic)
	g, err := s.bus.join(k)
	if err != nil {
		return nil, opError(opSubscribe, topic, err)
	}
	st := &memStream{
		s: s, g: g, k: k, topic: topic, window: window,
		unsettled: make(map[uint64]*message.Message, window),
		free:      make(chan struct{}, 1), done: make(chan struct{}),
	}
	if s.streams == nil {
		s.streams = map[*memStream]struct{}{}
	}
	s.streams[st] = struct{}{}
	return st, nil
}

// memStream is one Stream call.
type memStream struct {
	s      *subscriber
	g      *group
	k      groupKey
	topic  string
	window int
	free   chan struct{} // a full window got a free slot
	done   chan struct{} // closed by Close

	mu        sync.Mutex
	closed    bool
	seq       uint64
	unsettled map[uint64]*message.Message
	once      sync.Once
}

func (st *memStream) closedErr() error { return closedError(opSubscribe, st.topic) }

// Receive implements adapters.Stream.
func (st *memStream) Receive(ctx context.Context, buf []adapters.Delivery) (int, error) {
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
		if room <= 0 {
			select {
			case <-st.free:
				continue
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-st.done:
				return 0, st.closedErr()
			case <-st.s.stop:
				return 0, st.closedErr()
			}
		}
		var first *message.Message
		select {
		case first = <-st.g.queue:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-st.done:
			return 0, st.closedErr()
		case <-st.s.stop:
			return 0, st.closedErr()
		}
		n := 0
		st.mu.Lock()
		if st.closed {
			st.mu.Unlock()
			go st.g.requeue(first)
			return 0, st.closedErr()
		}
		buf[n] = st.add(first)
		n++
		for n < len(buf) && n < room {
			select {
			case m := <-st.g.queue:
				buf[n] = st.add(m)
				n++
				continue
			default:
			}
			break
		}
		st.mu.Unlock()
		return n, nil
	}
}

// add records m as unsettled; st.mu is held.
func (st *memStream) add(m *message.Message) adapters.Delivery {
	st.seq++
	st.unsettled[st.seq] = m
	return adapters.Delivery{Msg: m, Key: m.Metadata.Get(herald.KeyHeader), Seq: st.seq}
}

// settle removes d; it returns its message, or nil if it was settled
// already (or by Close).
func (st *memStream) settle(d adapters.Delivery) *message.Message {
	st.mu.Lock()
	m, ok := st.unsettled[d.Seq]
	if !ok || st.closed {
		st.mu.Unlock()
		return nil
	}
	delete(st.unsettled, d.Seq)
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
func (st *memStream) Ack(d adapters.Delivery) { st.settle(d) }

// Nack implements adapters.Stream: the message goes back to the end of
// the group's queue, after delay (held by a timer) when positive.
func (st *memStream) Nack(d adapters.Delivery, delay time.Duration) {
	m := st.settle(d)
	if m == nil {
		return
	}
	if delay > 0 {
		st.g.requeueAfter(m, delay)
		return
	}
	st.g.requeueNow(m)
}

// Close implements adapters.Stream: the unsettled messages go back to
// the group's queue, in delivery order, and the stream leaves the group.
func (st *memStream) Close(context.Context) error {
	st.once.Do(func() {
		st.mu.Lock()
		st.closed = true
		seqs := make([]uint64, 0, len(st.unsettled))
		for seq := range st.unsettled {
			seqs = append(seqs, seq)
		}
		slices.Sort(seqs)
		back := make([]*message.Message, len(seqs))
		for i, seq := range seqs {
			back[i] = st.unsettled[seq]
		}
		clear(st.unsettled)
		st.mu.Unlock()
		close(st.done)
		for _, m := range back {
			st.g.requeueNow(m)
		}
		st.s.mu.Lock()
		delete(st.s.streams, st)
		st.s.mu.Unlock()
		st.s.bus.leave(st.k, st.g)
	})
	return nil
}

// defaultWindow is the window of a Stream opened with window 0.
const defaultWindow = 256
