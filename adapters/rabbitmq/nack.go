package rabbitmq

import (
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald/adapters"
)

// heldNack is a nacked message held unsettled until its delay passed.
type heldNack struct{ t *time.Timer }

// nack requeues d. A delay (adapters.NackDelay, herald.RetryAfter) is
// honoured by holding the message unsettled that long, on a timer, while
// the consumer goes on with the next messages; then it is nacked and the
// broker redelivers it. Closing the consumer stops the timers: the broker
// requeues held messages with the channel, at once.
//
// An immediate nack, when this is the subscriber's only consumer of the
// topic and it holds nothing, closes and reopens the channel, so that the
// messages prefetched behind d are requeued too and the queue is consumed
// again in its original order.
func (sub *subscriber) nack(topic string, c *consumer, msg *message.Message, d amqp.Delivery) outcome {
	if delay, ok := adapters.NackDelay(msg); ok && delay > 0 {
		c.hold(d, delay)
		return outcomeNext
	}
	_ = d.Nack(false, true)
	if sub.activeCount(topic) == 1 && c.holding() == 0 {
		return outcomeRestart
	}
	return outcomeNext
}

// hold nacks d after delay unless c is closed first.
func (c *consumer) hold(d amqp.Delivery, delay time.Duration) {
	h := &heldNack{}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil {
		c.held = map[*heldNack]struct{}{}
	}
	c.held[h] = struct{}{}
	h.t = time.AfterFunc(delay, func() {
		c.mu.Lock()
		_, live := c.held[h]
		delete(c.held, h)
		c.mu.Unlock()
		if live {
			_ = d.Nack(false, true)
		}
	})
}

// holding is the number of held nacks.
func (c *consumer) holding() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.held)
}
