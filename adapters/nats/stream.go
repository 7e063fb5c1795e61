package nats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/adapters/internal/natsx"
)

// coreStream is one consumption of a topic on core NATS: one queue
// subscription hands out what the server sends, at most Window unsettled
// deliveries at a time. Core NATS delivers at most once: Ack and Nack
// only free the window (Capabilities say RedeliverLocal: the subscriber
// handles a failed message again itself, the server cannot), Close drops
// what was not handed out, and Attempt is 0. A lost connection is
// reported through StreamOptions.Status, its recovery with nil (nats.go
// restores the subscription).
type coreStream struct {
	s        *coreSubscription
	sub      *nats.Subscription
	m        natsx.Marshaler
	topic    string
	window   int
	status   func(error)
	free     chan struct{} // capacity 1: a full window got a free slot
	done     chan struct{} // closed by Close
	unlisten func()

	mu        sync.Mutex
	closed    bool
	seq       uint64
	unsettled map[uint64]struct{}
	once      sync.Once

	smu     sync.Mutex // serialises Status; Close sets sclosed under it
	sclosed bool
}

var _ adapters.Stream = (*coreStream)(nil)

func newCoreStream(s *coreSubscription, sub *nats.Subscription, topic string, o adapters.StreamOptions) *coreStream {
	st := &coreStream{
		s: s, sub: sub, topic: topic, window: max(o.Window, 1), status: o.Status,
		free: make(chan struct{}, 1), done: make(chan struct{}), unsettled: map[uint64]struct{}{},
	}
	if st.status == nil {
		st.status = func(error) {}
	}
	st.unlisten = s.watch.Listen(func(err error) {
		if err != nil {
			st.report(lostError(topic, err))
		} else {
			st.report(nil)
		}
	})
	return st
}

func (st *coreStream) report(err error) {
	st.smu.Lock()
	defer st.smu.Unlock()
	if !st.sclosed {
		st.status(err)
	}
}

func (st *coreStream) closedErr() error {
	return natsx.Error(Scheme, "subscribe to", st.topic, herald.KindClosed, nil)
}

// Receive implements adapters.Stream.
func (st *coreStream) Receive(ctx context.Context, buf []adapters.Received) (int, error) {
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
		if room > 0 {
			break
		}
		select {
		case <-st.free:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-st.done:
			return 0, st.closedErr()
		}
	}
	// Close unsubscribes, which ends the wait.
	nm, err := st.sub.NextMsgWithContext(ctx)
	for errors.Is(err, nats.ErrSlowConsumer) {
		// nats.go dropped what did not fit its pending limits (at most
		// once) and says so once: the subscription is fine, and what it
		// holds is still to be handed out.
		st.slow()
		nm, err = st.sub.NextMsgWithContext(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		st.mu.Lock()
		closed := st.closed
		st.mu.Unlock()
		if closed || st.s.stop.Err() != nil {
			return 0, st.closedErr()
		}
		k := herald.KindOther
		if errors.Is(err, nats.ErrConnectionClosed) {
			k = herald.KindUnreachable
		}
		return 0, natsx.Error(Scheme, "subscribe to", st.topic, k, fmt.Errorf("%w: %w", herald.ErrSubscriptionLost, err))
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	room := st.window - len(st.unsettled)
	n := 0
	for {
		buf[n] = st.delivery(nm)
		n++
		if n == len(buf) || n == room {
			return n, nil
		}
		if nm, err = st.sub.NextMsg(0); err != nil {
			if errors.Is(err, nats.ErrSlowConsumer) {
				st.slow()
			}
			return n, nil
		}
	}
}

// slow logs that nats.go dropped messages over its pending limits.
func (st *coreStream) slow() {
	dropped, _ := st.sub.Dropped()
	st.s.log.Info("herald/nats: core subscription too slow: messages dropped over the client's pending limits (at most once)",
		"topic", st.topic, "dropped_total", dropped)
}

// delivery records nm as unsettled; st.mu is held.
func (st *coreStream) delivery(nm *nats.Msg) adapters.Received {
	msg, _ := st.m.Unmarshal(nm)
	if nm.Reply != "" && msg.Metadata.Get(adapters.ReplyToHeader) == "" {
		// A request from a plain NATS client (nc.Request, the nats
		// CLI): its reply subject is the reply address.
		msg.Metadata.Set(adapters.ReplyToHeader, nm.Reply)
	}
	st.seq++
	st.unsettled[st.seq] = struct{}{}
	return adapters.Received{Msg: msg, Key: msg.Metadata.Get(herald.KeyHeader), Token: adapters.Token{Seq: st.seq}}
}

func (st *coreStream) settle(t adapters.Token) {
	st.mu.Lock()
	if _, ok := st.unsettled[t.Seq]; !ok {
		st.mu.Unlock()
		return
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
}

// Ack implements adapters.Stream: it frees t's place in the window.
func (st *coreStream) Ack(t adapters.Token) { st.settle(t) }

// Nack implements adapters.Stream: core NATS cannot redeliver; it frees
// t's place in the window (the subscriber does not call it:
// RedeliverLocal).
func (st *coreStream) Nack(t adapters.Token, _ time.Duration) { st.settle(t) }

// Valid implements adapters.Stream: a delivery stays valid until it is
// settled or the stream closed (nothing at the server can take it away).
func (st *coreStream) Valid(t adapters.Token) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	_, ok := st.unsettled[t.Seq]
	return ok && !st.closed
}

// Close implements adapters.Stream: it unsubscribes; what was not handed
// out is dropped.
func (st *coreStream) Close(context.Context) error {
	st.once.Do(func() {
		st.smu.Lock()
		st.sclosed = true
		st.smu.Unlock()
		st.unlisten()
		st.mu.Lock()
		st.closed = true
		clear(st.unsettled)
		st.mu.Unlock()
		close(st.done)
		if err := st.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			st.s.log.Debug("herald/nats: unsubscribe failed", "topic", st.topic, "err", err)
		}
		st.s.forget(st)
	})
	return nil
}
