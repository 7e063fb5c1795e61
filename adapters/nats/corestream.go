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

var _ adapters.StreamSubscriber = (*coreSubscriber)(nil)

// Stream implements adapters.StreamSubscriber on core NATS: one queue
// subscription hands out what the server sends, at most window unsettled
// deliveries at a time. Core NATS delivers at most once: Ack and Nack only
// free the window (a nack does not redeliver), Close drops what was not
// handed out, and Attempt is 0. A lost connection is reported with
// adapters.ReportStatus on ctx and its recovery with nil (nats.go
// restores the subscription).
func (s *coreSubscriber) Stream(ctx context.Context, topic string, window int) (adapters.Stream, error) {
	const op = "subscribe to"
	if err := natsx.CheckTopic(topic); err != nil {
		return nil, errorf(op, topic, err)
	}
	if window < 1 {
		window = defaultCoreWindow
	}
	if err := ctx.Err(); err != nil {
		return nil, errorf(op, topic, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errorf(op, topic, herald.ErrClosed)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	sub, err := s.nc.QueueSubscribeSync(topic, s.queue)
	if err == nil {
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		stop := context.AfterFunc(s.stop, cancel)
		err = s.nc.FlushWithContext(fctx)
		stop()
		cancel()
		if err != nil && s.stop.Err() != nil {
			err = fmt.Errorf("%w (interrupted: %w)", herald.ErrClosed, err)
		} else if err != nil && !s.nc.IsConnected() {
			err = fmt.Errorf("%w: %w", herald.ErrUnreachable, err)
		}
	}
	if err != nil {
		if sub != nil {
			_ = sub.Unsubscribe()
		}
		return nil, errorf(op, topic, err)
	}
	st := &coreStream{s: s, sub: sub, topic: topic, window: window, free: make(chan struct{}, 1), done: make(chan struct{})}
	h := natsx.NewHealth(ctx, s.log, Scheme, topic, s.group)
	st.unlisten = s.watch.Listen(func(err error) {
		if err != nil {
			h.Lost(err)
		} else {
			h.OK()
		}
	})
	s.mu.Lock()
	if s.streams == nil {
		s.streams = map[*coreStream]struct{}{}
	}
	s.streams[st] = struct{}{}
	s.mu.Unlock()
	return st, nil
}

// coreStream is one Stream call on core NATS.
type coreStream struct {
	s        *coreSubscriber
	sub      *nats.Subscription
	topic    string
	window   int
	free     chan struct{} // a full window got a free slot
	done     chan struct{} // closed by Close
	unlisten func()

	mu        sync.Mutex
	closed    bool
	seq       uint64
	unsettled map[uint64]struct{}
	once      sync.Once
}

func (st *coreStream) closedErr() error { return errorf("subscribe to", st.topic, herald.ErrClosed) }

// Receive implements adapters.Stream.
func (st *coreStream) Receive(ctx context.Context, buf []adapters.Delivery) (int, error) {
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
		return 0, errorf("subscribe to", st.topic, fmt.Errorf("%w: %w", herald.ErrSubscriptionLost, err))
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
			return n, nil
		}
	}
}

// delivery records nm as unsettled; st.mu is held.
func (st *coreStream) delivery(nm *nats.Msg) adapters.Delivery {
	msg, _ := st.s.m.Unmarshal(nm)
	st.seq++
	if st.unsettled == nil {
		st.unsettled = make(map[uint64]struct{}, st.window)
	}
	st.unsettled[st.seq] = struct{}{}
	return adapters.Delivery{Msg: msg, Key: msg.Metadata.Get(herald.KeyHeader), Seq: st.seq}
}

func (st *coreStream) settle(d adapters.Delivery) {
	st.mu.Lock()
	if _, ok := st.unsettled[d.Seq]; !ok {
		st.mu.Unlock()
		return
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
}

// Ack implements adapters.Stream: it frees d's place in the window.
func (st *coreStream) Ack(d adapters.Delivery) { st.settle(d) }

// Nack implements adapters.Stream: core NATS cannot redeliver; it frees
// d's place in the window.
func (st *coreStream) Nack(d adapters.Delivery, _ time.Duration) { st.settle(d) }

// Close implements adapters.Stream: it unsubscribes.
func (st *coreStream) Close(context.Context) error {
	st.once.Do(func() {
		st.mu.Lock()
		st.closed = true
		clear(st.unsettled)
		st.mu.Unlock()
		close(st.done)
		st.unlisten()
		if err := st.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			st.s.log.Debug("herald/nats: unsubscribe failed", "topic", st.topic, "err", err)
		}
		st.s.mu.Lock()
		delete(st.s.streams, st)
		st.s.mu.Unlock()
	})
	return nil
}

// defaultCoreWindow is the window of a core Stream opened with window 0.
const defaultCoreWindow = 256
