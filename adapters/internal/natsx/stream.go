package natsx

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

var _ adapters.StreamSubscriber = (*Subscriber)(nil)

// Stream consumes topic through one pull subscription that buffers up to
// window messages (PullMaxMessages) on a consumer whose MaxAckPending is at
// least window. Deliveries are handed out as they arrive, at most window
// unsettled at a time; Ack and Nack are sent without waiting for the
// server (JetStream acks are fire-and-forget). A delivery whose handler
// still runs when half the AckWait has passed is kept from redelivery
// with a progress signal (one ticker per stream scans the unsettled
// deliveries). Attempt is JetStream's delivery count, Key the herald-key
// header.
//
// The stream keeps the Subscribe behaviours: a broken subscription is
// reported with adapters.ReportStatus on ctx (which only bounds the setup
// otherwise) and logged, and the consumer is created again with growing
// delays while Receive keeps waiting.
func (s *Subscriber) Stream(ctx context.Context, topic string, window int) (adapters.Stream, error) {
	if err := CheckTopic(topic); err != nil {
		return nil, opError(s.scheme, opSubscribe, topic, err)
	}
	if window < 1 {
		window = s.set.Prefetch // the backend's default (adapters.StreamSubscriber)
	}
	if err := ctx.Err(); err != nil {
		return nil, opError(s.scheme, opSubscribe, topic, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, closedError(s.scheme, opSubscribe, topic)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	octx, cancel := s.opContext(ctx)
	c, it, err := s.iterator(octx, topic, window, false)
	cancel()
	if err != nil {
		s.wg.Done()
		return nil, s.opFailed(opSubscribe, topic, err)
	}
	// The stream lives until Close, carrying ctx's values (ReportStatus).
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	st := &stream{
		s: s, topic: topic, window: window, stop: stop,
		ready: make(chan struct{}, 1), free: make(chan struct{}, 1), ended: make(chan struct{}),
		queue:    make([]adapters.Delivery, 0, window),
		inflight: make(map[uint64]inflight, window),
	}
	st.sub = &subscription{
		s: s, ctx: life, topic: topic, wake: make(chan struct{}, 1),
		h: NewHealth(ctx, s.log, s.scheme, topic, s.group), window: window,
		handle: st.take, end: st.finish,
	}
	s.mu.Lock()
	if s.streams == nil {
		s.streams = map[*stream]struct{}{}
	}
	s.streams[st] = struct{}{}
	s.mu.Unlock()
	go st.sub.run(c, it)
	go st.keepAlive()
	return st, nil
}

// flushWait bounds Close's flush when its context has no deadline.
const flushWait = 5 * time.Second

// stream is one Stream call.
type stream struct {
	s      *Subscriber
	sub    *subscription
	topic  string
	window int
	stop   context.CancelFunc // ends the stream's life context
	ready  chan struct{}      // a delivery was queued, or the stream ended
	free   chan struct{}      // a full window got a free slot
	ended  chan struct{}      // closed when the subscription stopped

	mu        sync.Mutex
	closed    bool
	err       error               // why Receive returns nothing more
	queue     []adapters.Delivery // taken from the consumer, not yet received
	inflight  map[uint64]inflight // every unsettled delivery, by Seq
	seq       uint64
	gen       uint64 // ticks of keepAlive
	closeOnce sync.Once
}

// inflight is an unsettled delivery and the keepAlive tick at which it
// was delivered or last marked in progress.
type inflight struct {
	msg jetstream.Msg
	gen uint64
}

// take queues one message for Receive, once the window has room. It runs
// on the subscription's goroutine.
func (st *stream) take(raw jetstream.Msg) {
	st.mu.Lock()
	for len(st.inflight) >= st.window && !st.closed {
		st.mu.Unlock()
		select {
		case <-st.free:
		case <-st.sub.ctx.Done():
		case <-st.s.stop.Done():
		}
		if st.sub.stopping() {
			_ = raw.Nak()
			return
		}
		st.mu.Lock()
	}
	if st.closed {
		st.mu.Unlock()
		_ = raw.Nak()
		return
	}
	st.mu.Unlock()
	d := st.s.delivery(raw)
	st.mu.Lock()
	if st.closed { // closed while decoding
		st.mu.Unlock()
		_ = raw.Nak()
		return
	}
	st.seq++
	d.Seq = st.seq
	st.inflight[d.Seq] = inflight{msg: raw, gen: st.gen}
	st.queue = append(st.queue, d)
	st.mu.Unlock()
	select {
	case st.ready <- struct{}{}:
	default:
	}
}

// delivery decodes raw.
func (s *Subscriber) delivery(raw jetstream.Msg) adapters.Delivery {
	h := raw.Headers()
	fallback := ""
	if h.Get(wmUUIDHdr) == "" && h.Get(natsMsgIDHdr) == "" {
		if md, err := raw.Metadata(); err == nil {
			fallback = jsFallbackID(md.Stream, md.Sequence.Stream)
		}
	}
	msg := s.m.decode(h, raw.Data(), fallback)
	return adapters.Delivery{
		Msg:     msg,
		Key:     msg.Metadata[herald.KeyHeader],
		Attempt: numDelivered(raw.Reply()),
		Ref:     raw,
	}
}

// finish runs when the subscription stopped for good: Receive returns the
// reason once the queue is empty.
func (st *stream) finish() {
	st.mu.Lock()
	if st.err == nil {
		switch {
		case st.closed:
			st.err = closedError(st.s.scheme, opSubscribe, st.topic)
		case st.s.stop.Err() != nil:
			st.err = closedError(st.s.scheme, opSubscribe, st.topic)
		default:
			st.err = opError(st.s.scheme, opSubscribe, st.topic, fmt.Errorf("%w: the connection is closed for good", herald.ErrSubscriptionLost))
		}
	}
	st.mu.Unlock()
	close(st.ended)
	select {
	case st.ready <- struct{}{}:
	default:
	}
}

// Receive implements adapters.Stream.
func (st *stream) Receive(ctx context.Context, buf []adapters.Delivery) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	for {
		st.mu.Lock()
		if n := len(st.queue); n > 0 {
			k := copy(buf, st.queue)
			rest := copy(st.queue, st.queue[k:])
			clear(st.queue[rest:])
			st.queue = st.queue[:rest]
			st.mu.Unlock()
			return k, nil
		}
		if st.closed {
			st.mu.Unlock()
			return 0, closedError(st.s.scheme, opSubscribe, st.topic)
		}
		err := st.err
		st.mu.Unlock()
		if err != nil {
			return 0, err
		}
		select {
		case <-st.ready:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// settle removes d from the unsettled deliveries; it returns the message
// to settle, or nil when d was settled already (or by Close).
func (st *stream) settle(d adapters.Delivery) jetstream.Msg {
	st.mu.Lock()
	e, ok := st.inflight[d.Seq]
	if !ok || st.closed {
		st.mu.Unlock()
		return nil
	}
	delete(st.inflight, d.Seq)
	wasFull := len(st.inflight) == st.window-1
	st.mu.Unlock()
	if wasFull {
		select {
		case st.free <- struct{}{}:
		default:
		}
	}
	return e.msg
}

// Ack implements adapters.Stream: a fire-and-forget ack.
func (st *stream) Ack(d adapters.Delivery) {
	if m := st.settle(d); m != nil {
		if err := m.Ack(); err != nil {
			st.s.log.Debug("herald/"+st.s.scheme+": ack failed; the message will be redelivered", "topic", st.topic, "id", d.Msg.UUID, "err", err)
		}
	}
}

// Nack implements adapters.Stream: a NAK with delay, or, for 0, with the
// configured nak_delay or backoff step.
func (st *stream) Nack(d adapters.Delivery, delay time.Duration) {
	m := st.settle(d)
	if m == nil {
		return
	}
	if delay <= 0 {
		delay = st.s.defaultNakDelay(d.Attempt)
	}
	if delay > 0 {
		_ = m.NakWithDelay(delay)
		return
	}
	_ = m.Nak()
}

// keepAlive marks the deliveries unsettled for half the AckWait in
// progress, from one ticker per stream.
func (st *stream) keepAlive() {
	t := time.NewTicker(st.s.progressInterval() / 2)
	defer t.Stop()
	var due []jetstream.Msg
	for {
		select {
		case <-t.C:
		case <-st.ended:
			return
		}
		st.mu.Lock()
		st.gen++
		for seq, e := range st.inflight {
			// Two ticks (a progress interval, half the AckWait) at most
			// after it was delivered or last marked.
			if st.gen-e.gen >= 2 {
				due = append(due, e.msg)
				e.gen = st.gen
				st.inflight[seq] = e
			}
		}
		st.mu.Unlock()
		for i, m := range due {
			_ = m.InProgress()
			due[i] = nil
		}
		due = due[:0]
	}
}

// Close implements adapters.Stream: it stops pulling, returns every
// unsettled delivery to the consumer at once (NAK), and flushes the
// connection so that the acks and naks reach the server within ctx.
func (st *stream) Close(ctx context.Context) error {
	var err error
	st.closeOnce.Do(func() {
		st.mu.Lock()
		st.closed = true
		pending := make([]jetstream.Msg, 0, len(st.inflight))
		for _, e := range st.inflight {
			pending = append(pending, e.msg)
		}
		clear(st.inflight)
		clear(st.queue)
		st.queue = st.queue[:0]
		st.mu.Unlock()
		st.stop()
		select {
		case st.free <- struct{}{}:
		default:
		}
		select {
		case st.ready <- struct{}{}:
		default:
		}
		for _, m := range pending {
			_ = m.Nak()
		}
		select {
		case <-st.ended:
		case <-ctx.Done():
			err = opError(st.s.scheme, "close stream of", st.topic, ctx.Err())
		}
		st.s.mu.Lock()
		delete(st.s.streams, st)
		st.s.mu.Unlock()
		if st.s.nc.IsConnected() {
			fctx := ctx
			if _, ok := ctx.Deadline(); !ok {
				var cancel context.CancelFunc
				fctx, cancel = context.WithTimeout(ctx, flushWait)
				defer cancel()
			}
			if ferr := st.s.nc.FlushWithContext(fctx); ferr != nil && err == nil && !st.s.nc.IsClosed() {
				err = opError(st.s.scheme, "close stream of", st.topic, ferr)
			}
		}
	})
	return err
}
