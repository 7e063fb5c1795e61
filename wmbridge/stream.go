package wmbridge

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// stream is one Subscribe call on the Watermill subscriber. It holds at
// most window messages unsettled: Receive takes the next message from
// the channel only when a slot is free.
type stream struct {
	s      *subscription
	topic  string
	ch     <-chan *message.Message
	cancel context.CancelFunc // ends the Subscribe call
	slots  chan struct{}      // one token per unsettled delivery

	seq       atomic.Uint64
	mu        sync.Mutex
	held      map[*delivery]struct{} // handed out, not settled
	acking    []context.Context      // contexts of acked messages the Pub/Sub may still be acting on
	closed    chan struct{}
	closeOnce sync.Once
	drained   chan struct{} // closed once ch is closed, after Close
}

// maxAckWait bounds how long Close waits for the Pub/Sub to act on the
// acks made (for a Pub/Sub that keeps a message's context alive after its
// Ack, such as GoChannel with PreserveContext).
const maxAckWait = 2 * time.Second

// maxAcking bounds the contexts of acked messages a stream remembers.
const maxAcking = 64

// delivery is a Token's Ref: one message received from the channel.
type delivery struct {
	m *message.Message
	// ctx is m's context as the Pub/Sub set it: the one it cancels once
	// it acted on the Ack (the facade may set m's context to its own).
	ctx     context.Context
	settled atomic.Bool
}

func newStream(s *subscription, topic string, ch <-chan *message.Message, cancel context.CancelFunc, window int) *stream {
	return &stream{
		s: s, topic: topic, ch: ch, cancel: cancel,
		slots:   make(chan struct{}, window),
		held:    map[*delivery]struct{}{},
		closed:  make(chan struct{}),
		drained: make(chan struct{}),
	}
}

func (st *stream) Receive(ctx context.Context, buf []adapters.Received) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	select {
	case st.slots <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-st.closed:
		return 0, st.s.d.closedError("receive from", st.topic)
	}
	select {
	case m, ok := <-st.ch:
		if !ok {
			<-st.slots
			return 0, st.ended()
		}
		var held bool
		if buf[0], held = st.hold(m); !held {
			<-st.slots
			return 0, st.s.d.closedError("receive from", st.topic)
		}
	case <-ctx.Done():
		<-st.slots
		return 0, ctx.Err()
	case <-st.closed:
		<-st.slots
		return 0, st.s.d.closedError("receive from", st.topic)
	}
	n := 1
	for n < len(buf) {
		select {
		case st.slots <- struct{}{}:
		default:
			return n, nil
		}
		select {
		case m, ok := <-st.ch:
			if !ok {
				<-st.slots
				return n, nil // the next Receive reports it
			}
			var held bool
			if buf[n], held = st.hold(m); !held {
				<-st.slots
				return n, nil
			}
			n++
		default:
			<-st.slots
			return n, nil
		}
	}
	return n, nil
}

// ended is the error of a channel closed by the Watermill subscriber.
func (st *stream) ended() error {
	select {
	case <-st.closed:
		return st.s.d.closedError("receive from", st.topic)
	default:
	}
	if st.s.isClosed() {
		return st.s.d.closedError("receive from", st.topic)
	}
	// Not closed by us: the stream is broken; the facade opens another.
	return &herald.Error{Backend: st.s.d.b.Name, Op: "receive from", Topic: st.topic, Kind: herald.KindUnreachable, Err: errChannelEnded}
}

// hold records m as unsettled; false (m nacked) when Close came first.
func (st *stream) hold(m *message.Message) (adapters.Received, bool) {
	d := &delivery{m: m, ctx: m.Context()}
	st.mu.Lock()
	if st.held == nil {
		st.mu.Unlock()
		m.Nack()
		return adapters.Received{}, false
	}
	st.held[d] = struct{}{}
	st.mu.Unlock()
	return adapters.Received{Msg: m, Key: herald.Key(m), Token: adapters.Token{Seq: st.seq.Add(1), Ref: d}}, true
}

// settle takes d out of the unsettled set; false when it was settled or
// the stream closed already.
func (st *stream) settle(t adapters.Token) (*delivery, bool) {
	d, _ := t.Ref.(*delivery)
	if d == nil || !d.settled.CompareAndSwap(false, true) {
		return nil, false
	}
	st.mu.Lock()
	_, ok := st.held[d]
	delete(st.held, d)
	st.mu.Unlock()
	if !ok {
		return nil, false
	}
	return d, true
}

func (st *stream) Ack(t adapters.Token) {
	if d, ok := st.settle(t); ok {
		d.m.Ack()
		st.track(d.ctx)
		<-st.slots
	}
}

// track remembers the context of an acked message until it ends: a
// Watermill Pub/Sub cancels a message's context once it has acted on its
// Ack or Nack (Watermill's universal suite checks it), after it marked or
// committed it. Close waits for them before it ends the Subscribe call,
// so that an Ack made before Close is not lost to the cancellation.
func (st *stream) track(ctx context.Context) {
	if ctx.Done() == nil {
		return // a context that never ends: nothing to wait for
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.acking) >= maxAcking {
		live := st.acking[:0]
		for _, c := range st.acking {
			if c.Err() == nil {
				live = append(live, c)
			}
		}
		clear(st.acking[len(live):])
		st.acking = live
		if len(live) >= maxAcking {
			// A Pub/Sub that keeps acked contexts alive: only the
			// latest acks are waited for.
			n := copy(live, live[len(live)-maxAcking/2:])
			clear(live[n:])
			st.acking = live[:n]
		}
	}
	st.acking = append(st.acking, ctx)
}

// Nack is msg.Nack(): the Watermill subscriber delivers the message
// again. A Watermill Nack has no delay; the driver declares no NackDelay,
// so the facade holds the message itself and delay is 0 (a delay given
// anyway is held here).
func (st *stream) Nack(t adapters.Token, delay time.Duration) {
	d, ok := st.settle(t)
	if !ok {
		return
	}
	if delay <= 0 {
		d.m.Nack()
		<-st.slots
		return
	}
	time.AfterFunc(delay, func() {
		d.m.Nack()
		<-st.slots
	})
}

func (st *stream) Valid(t adapters.Token) bool {
	select {
	case <-st.closed:
		return false
	default:
	}
	d, _ := t.Ref.(*delivery)
	return d != nil && !d.settled.Load()
}

// Close waits (within ctx) until the Pub/Sub acted on the acks made,
// ends the Subscribe call and nacks what is unsettled, so that the
// Watermill subscriber can hand it on at once; messages still coming out
// of the channel are nacked too, until it closes (within ctx).
func (st *stream) Close(ctx context.Context) error {
	st.closeOnce.Do(func() {
		close(st.closed)
		st.mu.Lock()
		held, acking := st.held, st.acking
		st.held, st.acking = nil, nil // hold nacks what Receive still takes
		st.mu.Unlock()
		for d := range held {
			if d.settled.CompareAndSwap(false, true) {
				d.m.Nack()
			}
		}
		limit, cancel := context.WithTimeout(ctx, maxAckWait)
	wait:
		for _, c := range acking {
			select {
			case <-c.Done():
			case <-limit.Done():
				break wait
			}
		}
		cancel()
		st.cancel()
		st.s.forget(st)
		go func() {
			defer close(st.drained)
			for m := range st.ch {
				m.Nack()
			}
		}()
	})
	select {
	case <-st.drained:
	case <-ctx.Done():
	}
	return nil
}
