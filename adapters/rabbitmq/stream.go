package rabbitmq

import (
	"context"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/flow"
)

var _ adapters.StreamSubscriber = (*subscriber)(nil)

// maxPrefetch is the largest prefetch count AMQP can carry (a short).
const maxPrefetch = 65535

// Stream implements adapters.StreamSubscriber: one AMQP consumer on its
// own channel with prefetch = window (at most 65535), so the broker keeps
// up to window deliveries unacknowledged. Acks are coalesced: a
// delivery's ack only marks it settled, and one goroutine per stream
// sends a single multiple-ack for the contiguous settled prefix of
// delivery tags whenever it grew (never past an unsettled delivery). A
// nack requeues its delivery alone at once; a nack with a delay is held
// on a timer, then requeued. While a nack is held, the deliveries acked
// behind it are acked one by one, so that a long delay does not keep the
// whole window unacknowledged.
//
// After a lost channel or connection the consumer is registered again,
// with the loss and the recovery reported (adapters.ReportStatus on ctx)
// and logged as for Subscribe; deliveries of the lost channel are
// requeued by the broker, so settling them does nothing. Close flushes
// the acks of deliveries settled before it and closes the channel: the
// broker requeues the rest.
func (sub *subscriber) Stream(ctx context.Context, topic string, window int) (adapters.Stream, error) {
	if err := checkTopic(topic); err != nil {
		return nil, opError(sub.s.scheme, opSubscribe, topic, err)
	}
	if window < 1 {
		window = sub.s.prefetch // the backend's default (adapters.StreamSubscriber)
	}
	if err := ctx.Err(); err != nil {
		return nil, opError(sub.s.scheme, opSubscribe, topic, err)
	}
	if !sub.enter() {
		return nil, opError(sub.s.scheme, opSubscribe, topic, herald.ErrClosed)
	}
	prefetch := min(window, maxPrefetch)
	c, err := sub.consumeWith(ctx, topic, true, prefetch)
	if err != nil {
		sub.wg.Done()
		return nil, opError(sub.s.scheme, opSubscribe, topic, err)
	}
	s := &stream{
		sub:      sub,
		topic:    topic,
		prefetch: prefetch,
		quorum:   sub.s.queueType == "quorum" && sub.s.group != "",
		ackBatch: uint64(max(1, prefetch/8)),
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	// The stream outlives ctx (it ends with Close) but reports on it.
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	g := s.install(c)
	go s.run(g)
	return s, nil
}

// stream is one Stream: Receive reads the current generation's
// deliveries directly; run (one goroutine) sends the coalesced acks and
// replaces the generation after a loss.
type stream struct {
	sub      *subscriber
	topic    string
	prefetch int
	quorum   bool
	ackBatch uint64 // send a multiple-ack at once from this many tags on

	ctx    context.Context // status reports; cancelled by Close
	cancel context.CancelFunc
	kick   chan struct{} // settlements to send (1-buffered)
	done   chan struct{} // closed when run returned

	mu     sync.Mutex
	cur    *generation   // nil while re-registering
	ready  chan struct{} // closed when cur is set again
	closed bool
}

// generation is one channel's consumer and the state of its deliveries.
// Delivery tags are per channel: a Delivery carries its generation in Ref.
type generation struct {
	c    *consumer
	lost chan struct{} // closed when the generation ended

	// Guarded by stream.mu.
	dead    bool
	wm      flow.Watermark      // tags handed out and settled
	mark    uint64              // the settled prefix reaches it
	ackTo   uint64              // multiple-ack to send (0: none)
	sent    uint64              // the last multiple-ack sent
	singles []uint64            // single acks to send (while nacks are held)
	gone    map[uint64]struct{} // settled at the broker already (nacked, single-acked), above mark
	held    map[*heldNack]struct{}
}

// install makes c the current generation.
func (s *stream) install(c *consumer) *generation {
	g := &generation{c: c, lost: make(chan struct{})}
	s.mu.Lock()
	s.cur = g
	if s.ready != nil {
		close(s.ready)
		s.ready = nil
	}
	s.mu.Unlock()
	s.sub.active(s.topic, 1)
	return g
}

// end retires g: its settlements are dropped from now on, its held nacks
// stopped, its channel closed (the broker requeues what it did not get
// an ack for).
func (s *stream) end(g *generation) {
	s.mu.Lock()
	g.dead = true
	for h := range g.held {
		h.t.Stop()
	}
	g.held = nil
	if s.cur == g {
		s.cur = nil
		s.ready = make(chan struct{})
	}
	s.mu.Unlock()
	close(g.lost)
	s.sub.active(s.topic, -1)
	g.c.close()
}

// run sends the acks of the current generation and, when its channel or
// consumer is lost, registers a new consumer with backoff, until Close
// or the subscriber closes.
func (s *stream) run(g *generation) {
	defer s.sub.wg.Done()
	defer close(s.done)
	st := status{sub: s.sub, ctx: s.ctx, topic: s.topic}
	const minDelay, maxDelay = 50 * time.Millisecond, time.Second
	for {
		cause := s.serve(g)
		if cause == nil {
			s.flush(g) // what was settled before Close
		}
		s.end(g)
		if cause == nil || s.stopping() {
			return
		}
		st.lost(cause)
		delay := minDelay
		for {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-s.sub.closing:
				t.Stop()
				return
			}
			c, err := s.sub.consumeWith(s.ctx, s.topic, true, s.prefetch)
			if err == nil {
				g = s.install(c)
				st.ok()
				break
			}
			if s.stopping() {
				return
			}
			st.lost(err)
			delay = min(2*delay, maxDelay)
		}
	}
}

// ackDelay bounds how long a settled prefix shorter than ackBatch waits
// for more before its multiple-ack is sent.
const ackDelay = 2 * time.Millisecond

// serve sends g's settlements until g is lost (it returns the cause) or
// the stream stops (nil). A multiple-ack goes out at once when it covers
// ackBatch tags (an eighth of the window: the rest of the window keeps
// flowing meanwhile) or single acks wait; otherwise after ackDelay, so
// that one frame acks what several settlements advanced.
func (s *stream) serve(g *generation) error {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	armed := false
	for {
		select {
		case <-s.kick:
			if s.due(g) {
				s.flush(g)
			} else if !armed {
				t.Reset(ackDelay)
				armed = true
			}
		case <-t.C:
			armed = false
			s.flush(g)
		case e, ok := <-g.c.closes:
			return closedCause(e, ok)
		case _, ok := <-g.c.cancels:
			if !ok {
				// Closed with the channel, after closes got the cause.
				e, ok := <-g.c.closes
				return closedCause(e, ok)
			}
			return fmt.Errorf("the broker cancelled the consumer of queue %q (the queue was deleted?)", g.c.queue)
		case <-s.ctx.Done():
			return nil
		case <-s.sub.closing:
			return nil
		}
	}
}

// closedCause is the cause of a lost channel from its NotifyClose
// channel: the broker's or the client's error, if any.
func closedCause(e *amqp.Error, ok bool) error {
	if ok && e != nil {
		return fmt.Errorf("channel closed: %w", e)
	}
	return fmt.Errorf("channel closed")
}

func (s *stream) stopping() bool {
	select {
	case <-s.ctx.Done():
		return true
	case <-s.sub.closing:
		return true
	default:
		return false
	}
}

// due reports whether g's pending acks should go out now.
func (s *stream) due(g *generation) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(g.singles) > 0 || (g.ackTo > 0 && g.ackTo-g.sent >= s.ackBatch)
}

// flush sends g's pending acks: single ones first, then the multiple-ack
// (a single ack after a multiple one covering its tag would be an
// unknown tag to the broker, which closes the channel over it).
func (s *stream) flush(g *generation) {
	s.mu.Lock()
	to, singles := g.ackTo, g.singles
	g.ackTo, g.singles = 0, nil
	if to > 0 {
		g.sent = to
	}
	dead := g.dead
	s.mu.Unlock()
	if dead {
		return
	}
	for _, tag := range singles {
		if err := g.c.ch.Ack(tag, false); err != nil {
			return // the channel is gone: the broker requeues
		}
	}
	if to > 0 {
		_ = g.c.ch.Ack(to, true)
	}
}

// signal wakes run to send settlements.
func (s *stream) signal() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Receive implements adapters.Stream.
func (s *stream) Receive(ctx context.Context, buf []adapters.Delivery) (int, error) {
	if len(buf) == 0 {
		return 0, nil
	}
	for {
		s.mu.Lock()
		g, ready, closed := s.cur, s.ready, s.closed
		s.mu.Unlock()
		if closed {
			return 0, s.closedError()
		}
		if g == nil {
			select {
			case <-ready:
				continue
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-s.ctx.Done():
				return 0, s.closedError()
			case <-s.sub.closing:
				return 0, s.closedError()
			}
		}
		select {
		case d, ok := <-g.c.deliveries:
			if !ok {
				// The channel or consumer is gone: wait for run to
				// register a new one.
				select {
				case <-g.lost:
					continue
				case <-ctx.Done():
					return 0, ctx.Err()
				case <-s.ctx.Done():
					return 0, s.closedError()
				case <-s.sub.closing:
					return 0, s.closedError()
				}
			}
			if n := s.take(g, &d, buf); n > 0 {
				return n, nil
			}
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-s.ctx.Done():
			return 0, s.closedError()
		case <-s.sub.closing:
			return 0, s.closedError()
		}
	}
}

// take fills buf with first and the deliveries already waiting, and
// records their tags; 0 when g ended meanwhile (the broker requeues them).
func (s *stream) take(g *generation, first *amqp.Delivery, buf []adapters.Delivery) int {
	buf[0] = s.delivery(g, first)
	n := 1
more:
	for n < len(buf) {
		select {
		case d, ok := <-g.c.deliveries:
			if !ok {
				break more
			}
			buf[n] = s.delivery(g, &d)
			n++
		default:
			break more
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.dead || s.closed {
		clear(buf[:n])
		return 0
	}
	for i := range n {
		g.wm.Add(buf[i].Seq)
	}
	return n
}

// delivery turns d into an adapters.Delivery of g.
func (s *stream) delivery(g *generation, d *amqp.Delivery) adapters.Delivery {
	msg, _ := s.sub.cfg.Marshaler.Unmarshal(*d) // never fails
	attempt := 0
	if s.quorum {
		// A quorum queue counts earlier deliveries in x-delivery-count
		// (absent on the first).
		attempt = 1 + int(headerInt(d.Headers["x-delivery-count"]))
	}
	return adapters.Delivery{Msg: msg, Key: msg.Metadata.Get(herald.KeyHeader), Attempt: attempt, Ref: g, Seq: d.DeliveryTag}
}

// headerInt reads an integer header value (0 when absent or not one).
func headerInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case int8:
		return int64(x)
	case int:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	}
	return 0
}

// Ack implements adapters.Stream: it marks d settled; run sends the ack.
func (s *stream) Ack(d adapters.Delivery) {
	g, ok := d.Ref.(*generation)
	if !ok {
		return
	}
	s.mu.Lock()
	kick := !s.closed && !g.dead && !s.settledLocked(g, d.Seq) && s.settleLocked(g, d.Seq, true)
	s.mu.Unlock()
	if kick {
		s.signal()
	}
}

// settleLocked marks tag settled in g, acked (the ack is still to be
// sent) or not (the broker has settled it already: a nack or a single
// ack was sent), and reports whether there is something to send.
func (s *stream) settleLocked(g *generation, tag uint64, acked bool) bool {
	if !acked {
		s.goneLocked(g, tag)
	}
	up, advanced := g.wm.Done(tag)
	if !advanced {
		if acked && len(g.held) > 0 {
			// A held nack keeps the prefix from growing for its delay:
			// ack this one alone rather than keep it in the window.
			s.goneLocked(g, tag)
			g.singles = append(g.singles, tag)
			return true
		}
		return false
	}
	// The multiple-ack names the highest tag of the prefix the broker
	// still has unacked: a tag it settled already is unknown to it.
	to := up
	if len(g.gone) > 0 {
		for to > g.mark {
			if _, ok := g.gone[to]; !ok {
				break
			}
			to--
		}
		for t := range g.gone {
			if t <= up {
				delete(g.gone, t)
			}
		}
	}
	from := g.mark
	g.mark = up
	if to > from {
		g.ackTo = to
		return true
	}
	return false
}

// settledLocked reports whether tag is known settled: below the
// prefix, or settled at the broker. (A Delivery is settled once; this
// keeps a second settlement from reaching the broker where it is cheap
// to tell.)
func (s *stream) settledLocked(g *generation, tag uint64) bool {
	if tag <= g.mark {
		return true
	}
	_, gone := g.gone[tag]
	return gone
}

func (s *stream) goneLocked(g *generation, tag uint64) {
	if g.gone == nil {
		g.gone = map[uint64]struct{}{}
	}
	g.gone[tag] = struct{}{}
}

// Nack implements adapters.Stream: it requeues d now, or after delay
// (held on a timer that Close stops: the broker then requeues it with
// the channel).
func (s *stream) Nack(d adapters.Delivery, delay time.Duration) {
	g, ok := d.Ref.(*generation)
	if !ok {
		return
	}
	s.mu.Lock()
	if s.closed || g.dead || s.settledLocked(g, d.Seq) {
		s.mu.Unlock()
		return
	}
	if delay > 0 {
		h := &heldNack{}
		tag := d.Seq
		// The timer's function takes s.mu first, so it finds h in
		// g.held even if it fires at once.
		h.t = time.AfterFunc(delay, func() { s.release(g, h, tag) })
		if g.held == nil {
			g.held = map[*heldNack]struct{}{}
		}
		g.held[h] = struct{}{}
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.nackNow(g, d.Seq)
}

// release nacks a held delivery once its delay passed.
func (s *stream) release(g *generation, h *heldNack, tag uint64) {
	s.mu.Lock()
	_, live := g.held[h]
	delete(g.held, h)
	live = live && !g.dead && !s.closed
	s.mu.Unlock()
	if live {
		s.nackNow(g, tag)
	}
}

// nackNow requeues tag alone, then marks it settled: in this order, so
// that no multiple-ack covering it can reach the broker before the nack.
func (s *stream) nackNow(g *generation, tag uint64) {
	if err := g.c.ch.Nack(tag, false, true); err != nil {
		return // the channel is gone: the broker requeues it anyway
	}
	s.mu.Lock()
	kick := !g.dead && s.settleLocked(g, tag, false)
	s.mu.Unlock()
	if kick {
		s.signal()
	}
}

// Close implements adapters.Stream.
func (s *stream) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return opError(s.sub.s.scheme, opSubscribe, s.topic, fmt.Errorf("close: %w", ctx.Err()))
	}
}

func (s *stream) closedError() error {
	return opError(s.sub.s.scheme, opSubscribe, s.topic, herald.ErrClosed)
}
