package rabbitmq

import (
	"context"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
	"github.com/heraldkit/herald/internal/backoff"
)

// stream is one Stream: an AMQP consumer on its own channel with
// prefetch = the window. Receive reads the current generation's
// deliveries directly; run (one goroutine) sends the settlements (see
// ledger) and, after a lost channel or connection, registers a new
// consumer (a new generation) with backoff, reporting through Status.
type stream struct {
	sub      *subscription
	topic    string
	prefetch int
	quorum   bool
	ackBatch int
	status   func(error)

	kick   chan struct{}   // settlements to send (1-buffered)
	ctx    context.Context // cancelled by Close: ends run's waits
	cancel context.CancelFunc
	stop   <-chan struct{} // ctx.Done()
	done   chan struct{}   // closed when run returned

	mu     sync.Mutex
	cur    *generation   // nil while registering again
	ready  chan struct{} // closed when cur is set again
	closed bool
	gens   int32

	statusMu  sync.Mutex
	statusOff bool // Close returned: Status is not called any more
}

var _ adapters.Stream = (*stream)(nil)

// generation is one channel's consumer and the state of its deliveries.
// Delivery tags are per channel: a Token carries its generation in Ref.
type generation struct {
	c    *consumer
	id   int32
	lost chan struct{} // closed when the generation ended

	// Guarded by stream.mu.
	dead bool
	led  ledger
}

// maxPrefetch is the largest prefetch count AMQP can carry (a short).
const maxPrefetch = 65535

// ackDelay bounds how long settlements wait for more to coalesce with
// before they are sent (fewer than ackBatch frames' worth).
const ackDelay = 2 * time.Millisecond

func newStream(sub *subscription, topic string, c *consumer, prefetch int, status func(error)) *stream {
	s := &stream{
		sub:      sub,
		topic:    topic,
		prefetch: prefetch,
		quorum:   sub.queue(topic).quorum,
		ackBatch: max(1, prefetch/8),
		status:   status,
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.stop = s.ctx.Done()
	if s.status == nil {
		s.status = func(error) {}
	}
	g := s.install(c)
	go s.run(g)
	return s
}

// install makes c the current generation.
func (s *stream) install(c *consumer) *generation {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gens++
	g := &generation{c: c, id: s.gens, lost: make(chan struct{})}
	s.cur = g
	if s.ready != nil {
		close(s.ready)
		s.ready = nil
	}
	return g
}

// end retires g: its settlements are dropped from now on and its channel
// closed (the broker requeues what it holds unacked).
func (s *stream) end(g *generation) {
	s.mu.Lock()
	g.dead = true
	if s.cur == g {
		s.cur = nil
		s.ready = make(chan struct{})
	}
	s.mu.Unlock()
	close(g.lost)
	g.c.close()
}

// report calls Status with err unless Close returned.
func (s *stream) report(err error) {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	if !s.statusOff {
		s.status(err)
	}
}

// run sends the settlements of the current generation and, when its
// channel or consumer is lost, registers a new consumer with backoff,
// until Close.
func (s *stream) run(g *generation) {
	defer s.sub.wg.Done()
	defer close(s.done)
	log := s.sub.log
	policy := backoff.Policy{Base: 50 * time.Millisecond, Limit: time.Second}
	for {
		cause := s.serve(g)
		if cause == nil {
			s.flush(g) // what was settled before Close, before the channel closes
		}
		s.end(g)
		if cause == nil {
			return
		}
		log.Info(fmt.Sprintf("herald/%s: consumer of %q lost; registering again", s.sub.s.scheme, s.topic), "topic", s.topic, "cause", cause.Error())
		s.report(s.lostError(cause))
		retry := policy.Start()
		for {
			if !backoff.Wait(context.Background(), retry.Next(), s.stop) {
				return
			}
			c, err := s.sub.consume(s.ctx, s.topic, true, s.prefetch)
			if err == nil {
				g = s.install(c)
				log.Info(fmt.Sprintf("herald/%s: consumer of %q registered again", s.sub.s.scheme, s.topic), "topic", s.topic)
				s.report(nil)
				break
			}
			if s.stopping() {
				return
			}
			if kindOf(err) == herald.KindClosed {
				// The subscription's connection is closed: so is the
				// stream (Receive returns KindClosed).
				s.mu.Lock()
				s.closed = true
				s.mu.Unlock()
				s.cancel()
				return
			}
			log.Debug(fmt.Sprintf("herald/%s: registering the consumer of %q failed", s.sub.s.scheme, s.topic), "topic", s.topic, "cause", err.Error())
			s.report(s.lostError(err))
		}
	}
}

// lostError is what Status reports while the stream does not receive:
// KindUnreachable for a lost connection, else the cause's kind.
func (s *stream) lostError(cause error) error {
	err := fmt.Errorf("%w: %w", herald.ErrSubscriptionLost, cause)
	if kindOf(cause) == herald.KindOther {
		if _, cerr := s.sub.conn.get(); cerr != nil {
			err = withKind(herald.KindUnreachable, err)
		}
	}
	return opError(s.sub.s.scheme, opSubscribe, s.topic, err)
}

func (s *stream) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// serve sends g's settlements until g is lost (it returns the cause) or
// the stream stops (nil): at once when they are due (a nack, or ackBatch
// frames' worth), else within ackDelay.
func (s *stream) serve(g *generation) error {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	armed := false
	for {
		select {
		case <-s.kick:
			s.mu.Lock()
			due, pending := g.led.due(s.ackBatch), g.led.pending()
			s.mu.Unlock()
			if due {
				s.flush(g)
			} else if pending && !armed {
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
		case <-s.stop:
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

// flush sends g's queued settlements: nacks, single acks, then the
// multiple-ack (which never names a tag settled alone).
func (s *stream) flush(g *generation) {
	s.mu.Lock()
	nacks, singles, to := g.led.take()
	dead := g.dead
	s.mu.Unlock()
	if dead {
		return
	}
	for _, tag := range nacks {
		if g.c.ch.Nack(tag, false, true) != nil {
			return // the channel is gone: the broker requeues
		}
	}
	for _, tag := range singles {
		if g.c.ch.Ack(tag, false) != nil {
			return
		}
	}
	if to > 0 {
		_ = g.c.ch.Ack(to, true)
	}
}

func (s *stream) signal() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Receive implements adapters.Stream.
func (s *stream) Receive(ctx context.Context, buf []adapters.Received) (int, error) {
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
			case <-s.stop:
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
				case <-s.stop:
					return 0, s.closedError()
				}
			}
			if n := s.take(g, &d, buf); n > 0 {
				return n, nil
			}
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-s.stop:
			return 0, s.closedError()
		}
	}
}

// take fills buf with first and the deliveries already waiting, and
// records their tags; 0 when g ended meanwhile (the broker requeues them).
func (s *stream) take(g *generation, first *amqp.Delivery, buf []adapters.Received) int {
	buf[0] = s.received(g, first)
	n := 1
more:
	for n < len(buf) {
		select {
		case d, ok := <-g.c.deliveries:
			if !ok {
				break more
			}
			buf[n] = s.received(g, &d)
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
		g.led.add(buf[i].Token.Seq)
	}
	return n
}

// received turns d into a Received of g.
func (s *stream) received(g *generation, d *amqp.Delivery) adapters.Received {
	m := fromDelivery(d)
	attempt := 0
	if s.quorum {
		// A quorum queue counts earlier deliveries in x-delivery-count
		// (absent on the first).
		attempt = 1 + int(headerInt(d.Headers["x-delivery-count"]))
	}
	return adapters.Received{
		Msg:     m,
		Key:     m.Metadata.Get(herald.KeyHeader),
		Attempt: attempt,
		Time:    d.Timestamp,
		Token:   adapters.Token{Seq: d.DeliveryTag, Part: g.id, Ref: g},
	}
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

// settle applies one settlement to t's generation and wakes run.
func (s *stream) settle(t adapters.Token, nack bool) {
	g, ok := t.Ref.(*generation)
	if !ok {
		return
	}
	s.mu.Lock()
	live := !s.closed && !g.dead
	if live {
		if nack {
			g.led.nack(t.Seq)
		} else {
			g.led.ack(t.Seq)
		}
	}
	s.mu.Unlock()
	if live {
		s.signal()
	}
}

// Ack implements adapters.Stream: it queues the ack; run sends it within
// ackDelay (see ledger for how).
func (s *stream) Ack(t adapters.Token) { s.settle(t, false) }

// Nack implements adapters.Stream: the delivery is requeued alone, at
// once (RabbitMQ cannot delay a redelivery: Capabilities.NackDelay is
// false, so the facade holds the message for its delay and passes 0).
func (s *stream) Nack(t adapters.Token, _ time.Duration) { s.settle(t, true) }

// Valid implements adapters.Stream: false once the delivery's channel is
// gone (the broker requeued it, and may have handed it to another
// consumer already) or the stream closed.
func (s *stream) Valid(t adapters.Token) bool {
	g, ok := t.Ref.(*generation)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && !g.dead
}

// Close implements adapters.Stream: settlements made before it are sent,
// then the channel is closed and the broker requeues the rest at once.
func (s *stream) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	defer func() {
		s.statusMu.Lock()
		s.statusOff = true
		s.statusMu.Unlock()
	}()
	select {
	case <-s.done:
		s.sub.forget(s)
		return nil
	case <-ctx.Done():
		return opError(s.sub.s.scheme, opClose, s.topic, fmt.Errorf("settlements not all sent: %w", context.Cause(ctx)))
	}
}

func (s *stream) closedError() error {
	return opError(s.sub.s.scheme, opSubscribe, s.topic, errClosed)
}
