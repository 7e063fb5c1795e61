package rabbitmq

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald/adapters"
)

var _ message.SubscribeInitializer = (*subscriber)(nil)

// subscriber consumes over one connection (which reconnects by itself). Each Subscribe call is one AMQP consumer on its own channel;
// calls for the same topic consume the same queue and so compete.
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
	closing   chan struct{}
	wg        sync.WaitGroup
	once      sync.Once

	wsubOnce sync.Once
	wsub     *wamqp.Subscriber
	wsubErr  error
}

func newSubscriber(s *settings) (*subscriber, error) {
	id := strings.ToLower(watermill.NewULID())
	cfg := s.watermillConfig(id)
	conn, err := dial(s)
	if err != nil {
		return nil, err
	}
	return &subscriber{s: s, cfg: cfg, conn: conn, privateID: id, closing: make(chan struct{}), consumers: map[string]int{}}, nil
}

// consumer is one registered AMQP consumer.
type consumer struct {
	ch         *amqp.Channel
	deliveries <-chan amqp.Delivery
}

// Subscribe declares topic's exchange and the subscriber's queue, binds
// them and registers a consumer before it returns, so a message published
// once it returned is not lost. The channel closes when ctx is done or the
// subscriber is closed. After a lost connection the consumer is
// registered again (and the queue declared again) until that happens.
func (sub *subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	sub.mu.Lock()
	if sub.closed {
		sub.mu.Unlock()
		return nil, errClosed
	}
	sub.wg.Add(1)
	sub.mu.Unlock()

	c, err := sub.consume(topic)
	if err != nil {
		sub.wg.Done()
		return nil, err
	}
	out := make(chan *message.Message)
	go sub.run(ctx, topic, c, out)
	return out, nil
}

// SubscribeInitialize implements message.SubscribeInitializer: it
// declares topic's exchange and the subscriber's queue and binds them,
// without consuming. Declaring a group's queue ahead of its first
// subscriber makes the broker keep the messages published meanwhile.
func (sub *subscriber) SubscribeInitialize(topic string) error {
	if err := checkTopic(topic); err != nil {
		return err
	}
	sub.mu.Lock()
	closed := sub.closed
	sub.mu.Unlock()
	if closed {
		return errClosed
	}
	conn, err := sub.conn.get()
	if err != nil {
		return fmt.Errorf("rabbitmq: initialize %q: %w", topic, err)
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("rabbitmq: initialize %q: open channel: %w", topic, err)
	}
	defer ch.Close()
	if _, err := declareQueue(ch, sub.cfg, topic); err != nil {
		return fmt.Errorf("rabbitmq: initialize %q: %w", topic, err)
	}
	return nil
}

// consume opens a channel, declares and binds the queue and registers a
// consumer on it.
func (sub *subscriber) consume(topic string) (*consumer, error) {
	conn, err := sub.conn.get()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: subscribe to %q: %w", topic, err)
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: subscribe to %q: open channel: %w", topic, err)
	}
	if err := ch.Qos(sub.s.prefetch, 0, false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("rabbitmq: subscribe to %q: set prefetch: %w", topic, err)
	}
	q, err := declareQueue(ch, sub.cfg, topic)
	if err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("rabbitmq: subscribe to %q: %w", topic, err)
	}
	d, err := ch.Consume(q, "", false, false, false, false, nil)
	if err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("rabbitmq: subscribe to %q: consume from queue %q: %w", topic, q, err)
	}
	return &consumer{ch: ch, deliveries: d}, nil
}

// run feeds out from c and registers a new consumer whenever the channel
// or connection is lost, until ctx is done or the subscriber closes.
func (sub *subscriber) run(ctx context.Context, topic string, c *consumer, out chan<- *message.Message) {
	defer sub.wg.Done()
	defer close(out)
	const minDelay, maxDelay = 50 * time.Millisecond, time.Second
	delay := minDelay
	for {
		if c != nil {
			sub.active(topic, 1)
			next := sub.deliver(ctx, topic, c, out)
			sub.active(topic, -1)
			_ = c.ch.Close() // the broker requeues what was not acked
			c = nil
			switch next {
			case outcomeStop:
				return
			case outcomeRestart:
				if c, _ = sub.consume(topic); c != nil {
					continue
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-sub.closing:
			return
		case <-time.After(delay):
		}
		var err error
		if c, err = sub.consume(topic); err != nil {
			delay = min(2*delay, maxDelay)
			continue
		}
		delay = minDelay
	}
}

// outcome says what a consumer does after a delivery.
type outcome int

const (
	outcomeNext    outcome = iota // go on
	outcomeStop                   // ctx done or subscriber closing
	outcomeLost                   // channel or connection lost: reconnect
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
			if o := sub.handle(ctx, topic, d, out); o != outcomeNext {
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
func (sub *subscriber) handle(ctx context.Context, topic string, d amqp.Delivery, out chan<- *message.Message) outcome {
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
		_ = d.Ack(false)
		return outcomeNext
	case <-msg.Nacked():
		return sub.nack(ctx, topic, msg, d)
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

// nack requeues d. A delay the handler asked for (herald.RetryAfter) is
// honoured by holding the message that long before requeueing it; the
// consumer takes nothing else meanwhile. When this is the subscriber's
// only consumer of the topic, the channel is then closed and opened
// again, so that the messages prefetched behind d are requeued too and
// the queue is consumed again in its original order.
func (sub *subscriber) nack(ctx context.Context, topic string, msg *message.Message, d amqp.Delivery) outcome {
	if delay, ok := adapters.NackDelay(msg); ok && delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-sub.closing:
		}
		t.Stop()
	}
	_ = d.Nack(false, true)
	if sub.activeCount(topic) == 1 {
		return outcomeRestart
	}
	return outcomeNext
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

// Close cancels every consumer (the broker requeues unacked messages),
// waits for the Subscribe goroutines and closes the connection. A message
// whose handler acked before Close is acked. Close is idempotent.
func (sub *subscriber) Close() error {
	var err error
	sub.once.Do(func() {
		sub.mu.Lock()
		sub.closed = true
		sub.mu.Unlock()
		close(sub.closing)
		sub.wg.Wait()
		if sub.wsub != nil {
			_ = sub.wsub.Close()
		}
		err = sub.conn.Close()
	})
	return err
}

// As implements the escape hatch; see the package documentation.
func (sub *subscriber) As(target any) bool {
	switch t := target.(type) {
	case **wamqp.Subscriber:
		sub.wsubOnce.Do(func() {
			sub.wsub, sub.wsubErr = wamqp.NewSubscriber(sub.cfg, nopLogger)
		})
		if sub.wsubErr != nil {
			return false
		}
		*t = sub.wsub
		return true
	}
	return asConnection(sub.conn, sub.cfg, target)
}
