package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
)

var _ message.SubscribeInitializer = (*subscriber)(nil)

// subscriber consumes over one connection (which reconnects by itself).
// Each Subscribe call is one AMQP consumer on its own channel; calls for
// the same topic consume the same queue and so compete.
//
// It does not use watermill-amqp's Subscriber because that one registers
// the consumer in a background goroutine after Subscribe returned, and on
// Close it may nack (requeue) a message whose handler had already acked it.
type subscriber struct {
	s         *settings
	cfg       wamqp.Config
	conn      *connection
	privateID string

	mu        sync.Mutex // guards closed, wg.Add and consumers
	closed    bool
	consumers map[string]int // topic -> running consumers
	waiting   int            // consume calls waiting for the broker (for tests)
	closing   chan struct{}
	wg        sync.WaitGroup
	once      sync.Once
}

func newSubscriber(ctx context.Context, s *settings) (*subscriber, error) {
	id := strings.ToLower(watermill.NewULID())
	cfg := s.watermillConfig(id)
	conn, err := dial(ctx, s)
	if err != nil {
		return nil, err
	}
	return &subscriber{s: s, cfg: cfg, conn: conn, privateID: id, closing: make(chan struct{}), consumers: map[string]int{}}, nil
}

// enter registers a call that Close must wait for; false once closed.
func (sub *subscriber) enter() bool {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if sub.closed {
		return false
	}
	sub.wg.Add(1)
	return true
}

// Subscribe declares topic's exchange and the subscriber's queue, binds
// them and registers a consumer before it returns, so a message published
// once it returned is not lost; it gives up when ctx ends or the
// subscriber is closed. The channel closes when ctx is done or the
// subscriber is closed. After a lost connection, channel or consumer
// the consumer is registered again (and the queue declared again) until
// that happens; the loss and the recovery are reported with
// adapters.ReportStatus on ctx and logged.
func (sub *subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := checkTopic(topic); err != nil {
		return nil, opError(sub.s.scheme, opSubscribe, topic, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, opError(sub.s.scheme, opSubscribe, topic, err)
	}
	if !sub.enter() {
		return nil, opError(sub.s.scheme, opSubscribe, topic, herald.ErrClosed)
	}
	c, err := sub.consume(ctx, topic, true)
	if err != nil {
		sub.wg.Done()
		return nil, opError(sub.s.scheme, opSubscribe, topic, err)
	}
	out := make(chan *message.Message)
	go sub.run(ctx, topic, c, out)
	return out, nil
}

// SubscribeInitialize implements message.SubscribeInitializer: it
// declares topic's exchange and the subscriber's queue and binds them,
// without consuming. Declaring a group's queue ahead of its first
// subscriber makes the broker keep the messages published meanwhile. It
// waits at most dial_timeout; Close interrupts it.
func (sub *subscriber) SubscribeInitialize(topic string) error {
	ctx, cancel := context.WithTimeout(context.Background(), sub.s.dialTimeout)
	defer cancel()
	return sub.SubscribeInitializeContext(ctx, topic)
}

// SubscribeInitializeContext is SubscribeInitialize bounded by ctx.
func (sub *subscriber) SubscribeInitializeContext(ctx context.Context, topic string) error {
	if err := checkTopic(topic); err != nil {
		return opError(sub.s.scheme, opInitialize, topic, err)
	}
	if !sub.enter() {
		return opError(sub.s.scheme, opInitialize, topic, herald.ErrClosed)
	}
	defer sub.wg.Done()
	c, err := sub.consume(ctx, topic, false)
	if err != nil {
		return opError(sub.s.scheme, opInitialize, topic, err)
	}
	c.close()
	return nil
}

// consumer is one AMQP channel with, when registered, a consumer on it.
type consumer struct {
	ch         *amqp.Channel
	queue      string
	deliveries <-chan amqp.Delivery
	closes     chan *amqp.Error
	cancels    chan string

	mu   sync.Mutex
	held map[*heldNack]struct{} // nacks waiting for their delay
}

// consume opens a channel, declares and binds the queue and, when
// register is set, registers a consumer on it. The broker's answers are
// awaited in a goroutine so that ctx and Close interrupt the wait; a
// setup that completes after that is undone.
func (sub *subscriber) consume(ctx context.Context, topic string, register bool) (*consumer, error) {
	return sub.consumeWith(ctx, topic, register, sub.s.prefetch)
}

// consumeWith is consume with the given prefetch (a Stream's window).
func (sub *subscriber) consumeWith(ctx context.Context, topic string, register bool, prefetch int) (*consumer, error) {
	conn, err := sub.conn.get()
	if err != nil {
		return nil, err
	}
	type result struct {
		c   *consumer
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := sub.setup(conn, topic, register, prefetch)
		res <- result{c, err}
	}()
	sub.addWaiting(1)
	defer sub.addWaiting(-1)
	select {
	case r := <-res:
		return r.c, r.err
	case <-ctx.Done():
	case <-sub.closing:
	}
	go func() {
		if r := <-res; r.c != nil {
			r.c.close()
		}
	}()
	select {
	case <-sub.closing:
		return nil, herald.ErrClosed
	default:
		return nil, unreachable(ctx, fmt.Errorf("no answer from the broker while subscribing"))
	}
}

func (sub *subscriber) addWaiting(n int) {
	sub.mu.Lock()
	sub.waiting += n
	sub.mu.Unlock()
}

// setup does consume's work on conn, waiting for each answer.
func (sub *subscriber) setup(conn *amqp.Connection, topic string, register bool, prefetch int) (*consumer, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	c := &consumer{
		ch:      ch,
		closes:  ch.NotifyClose(make(chan *amqp.Error, 1)),
		cancels: ch.NotifyCancel(make(chan string, 1)),
	}
	if err := ch.Qos(prefetch, 0, false); err != nil {
		c.close()
		return nil, fmt.Errorf("set prefetch: %w", err)
	}
	if c.queue, err = declareQueue(ch, sub.cfg, topic); err != nil {
		c.close()
		return nil, explainAccess(sub.s, err)
	}
	if !register {
		return c, nil
	}
	if c.deliveries, err = ch.Consume(c.queue, "", false, false, false, false, nil); err != nil {
		c.close()
		return nil, fmt.Errorf("consume from queue %q: %w", c.queue, explainAccess(sub.s, err))
	}
	return c, nil
}

// explainAccess names the likely cause of an ACCESS_REFUSED.
func explainAccess(s *settings, err error) error {
	var e *amqp.Error
	if errors.As(err, &e) && e.Code == amqp.AccessRefused {
		return accessRefused(s, "subscribe (declare, bind or read the queue)", err)
	}
	return err
}

// close stops the held nacks (their messages are requeued with the rest)
// and closes the channel: the broker requeues what was not acked. It
// waits for the broker's answer at most closeTimeout (a broker behind a
// black hole never answers; closing the connection ends the channel).
func (c *consumer) close() {
	c.mu.Lock()
	for h := range c.held {
		h.t.Stop()
	}
	c.held = nil
	c.mu.Unlock()
	done := make(chan struct{})
	go func() {
		_ = c.ch.Close()
		close(done)
	}()
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// lostCause says why c's deliveries stopped.
func (c *consumer) lostCause() error {
	// The client closes cancels, too, when the channel closes: only a
	// value on it is a cancel.
	select {
	case _, ok := <-c.cancels:
		if ok {
			return fmt.Errorf("the broker cancelled the consumer of queue %q (the queue was deleted?)", c.queue)
		}
	default:
	}
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case e, ok := <-c.closes:
		return closedCause(e, ok)
	case _, ok := <-c.cancels:
		if ok {
			return fmt.Errorf("the broker cancelled the consumer of queue %q (the queue was deleted?)", c.queue)
		}
		e, ok := <-c.closes
		return closedCause(e, ok)
	case <-t.C:
	}
	return fmt.Errorf("channel closed")
}

// run feeds out from c and registers a new consumer whenever the channel
// or connection is lost, until ctx is done or the subscriber closes.
func (sub *subscriber) run(ctx context.Context, topic string, c *consumer, out chan<- *message.Message) {
	defer sub.wg.Done()
	defer close(out)
	st := status{sub: sub, ctx: ctx, topic: topic}
	const minDelay, maxDelay = 50 * time.Millisecond, time.Second
	delay := minDelay
	for {
		if c != nil {
			st.ok()
			sub.active(topic, 1)
			next := sub.deliver(ctx, topic, c, out)
			sub.active(topic, -1)
			var cause error
			if next == outcomeLost {
				cause = c.lostCause()
			}
			c.close()
			c = nil
			switch next {
			case outcomeStop:
				return
			case outcomeRestart:
				var err error
				if c, err = sub.consume(ctx, topic, true); err == nil {
					continue
				}
				cause = err
			}
			if sub.stopping(ctx) {
				return
			}
			st.lost(cause)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-sub.closing:
			t.Stop()
			return
		case <-t.C:
		}
		var err error
		if c, err = sub.consume(ctx, topic, true); err != nil {
			if sub.stopping(ctx) {
				return
			}
			st.lost(err)
			delay = min(2*delay, maxDelay)
			continue
		}
		delay = minDelay
	}
}

// stopping reports whether the subscription ends: ctx done or the
// subscriber closing (a failure then is not a loss to report).
func (sub *subscriber) stopping(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	case <-sub.closing:
		return true
	default:
		return false
	}
}

// outcome says what a consumer does after a delivery.
type outcome int

const (
	outcomeNext    outcome = iota // go on
	outcomeStop                   // ctx done or subscriber closing
	outcomeLost                   // channel, consumer or connection lost: reconnect
	outcomeRestart                // close the channel and consume again
)

// deliver hands c's deliveries to out one at a time and settles each as
// its handler did.
func (sub *subscriber) deliver(ctx context.Context, topic string, c *consumer, out chan<- *message.Message) outcome {
	for {
		select {
		case d, ok := <-c.deliveries:
			if !ok {
				return outcomeLost
			}
			if o := sub.handle(ctx, topic, c, d, out); o != outcomeNext {
				return o
			}
		case <-ctx.Done():
			return outcomeStop
		case <-sub.closing:
			return outcomeStop
		}
	}
}

// handle delivers one message and waits until it is acked or nacked.
func (sub *subscriber) handle(ctx context.Context, topic string, c *consumer, d amqp.Delivery, out chan<- *message.Message) outcome {
	msg, err := sub.cfg.Marshaler.Unmarshal(d)
	if err != nil {
		_ = d.Nack(false, false) // cannot happen with this marshaler
		return outcomeNext
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msg.SetContext(mctx)

	select {
	case out <- msg:
	case <-ctx.Done():
		_ = d.Nack(false, true)
		return outcomeStop
	case <-sub.closing:
		_ = d.Nack(false, true)
		return outcomeStop
	}
	// Once handed over, the message is settled by its handler even if
	// ctx is done meanwhile (its context is cancelled, which tells it).
	select {
	case <-msg.Acked():
		if err := d.Ack(false); err != nil {
			// The channel is gone: the broker redelivers the message.
			sub.conn.log.Debug(fmt.Sprintf("herald/%s: ack of message %s on %q failed; it will be redelivered", sub.s.scheme, msg.UUID, topic), "cause", err.Error())
		}
		return outcomeNext
	case <-msg.Nacked():
		return sub.nack(topic, c, msg, d)
	case <-sub.closing:
		// An ack that raced with Close wins: never redeliver a message
		// its handler acked.
		select {
		case <-msg.Acked():
			_ = d.Ack(false)
		default:
			_ = d.Nack(false, true)
		}
		return outcomeStop
	}
}

// active adds n to the number of running consumers of topic.
func (sub *subscriber) active(topic string, n int) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.consumers[topic] += n
	if sub.consumers[topic] == 0 {
		delete(sub.consumers, topic)
	}
}

func (sub *subscriber) activeCount(topic string) int {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.consumers[topic]
}

// Close cancels every consumer (the broker requeues unacked messages,
// held nacks included), waits for the Subscribe goroutines and closes the
// connection. A message whose handler acked before Close is acked. Close
// is idempotent.
func (sub *subscriber) Close() error {
	sub.once.Do(func() {
		sub.mu.Lock()
		sub.closed = true
		sub.mu.Unlock()
		close(sub.closing)
		sub.wg.Wait()
		_ = sub.conn.Close()
	})
	return nil
}

// As implements the escape hatch; see the package documentation.
func (sub *subscriber) As(target any) bool {
	return asConnection(sub.conn, sub.cfg, target)
}
