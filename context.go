package herald

import (
	"context"
	"time"
)

// Delivery describes where a message is being published or consumed. The
// subscriber puts it in the context its handlers (and middleware) receive;
// the publisher puts it in the context of publish middleware.
type Delivery struct {
	Backend string // the scheme: kafka, amqp, nats, mem, embedded
	Topic   string
	Group   string // "" on the publish side and for private subscribers
	// Attempt is how many times the message being handled has been
	// delivered, 1 for the first. Where the backend counts deliveries
	// (adapters.Capabilities.CountsAttempts: JetStream, RabbitMQ quorum
	// queues) it is the broker's count, across subscribers and restarts;
	// elsewhere it is this subscriber's own count since it started (it
	// starts again at 1 after a restart or a rebalance). 0 on the
	// publish side.
	Attempt int
	// Time is when the message was published or stored, as the broker
	// carries it: the AMQP timestamp property on RabbitMQ (set by the
	// publisher: Herald sets it at publish, foreign clients may not), the
	// record timestamp on Kafka (the producer's create time, or the
	// broker's append time on a topic with LogAppendTime), the time the
	// stream stored the message on JetStream (nats, embedded). Zero where
	// the backend carries none (mem, core NATS, an AMQP message without
	// a timestamp) and on the publish side.
	Time time.Time
}

type deliveryKey struct{}

// deliveryCtx carries a Delivery in one allocation (context.WithValue
// would box the Delivery as well: two per message handled).
type deliveryCtx struct {
	context.Context
	d Delivery
}

// Value answers deliveryKey with the context itself and asks the parent
// for everything else.
func (c *deliveryCtx) Value(key any) any {
	if _, ok := key.(deliveryKey); ok {
		return c
	}
	return c.Context.Value(key)
}

// ContextWithDelivery returns a context carrying d.
func ContextWithDelivery(ctx context.Context, d Delivery) context.Context {
	return &deliveryCtx{Context: ctx, d: d}
}

// DeliveryFromContext returns the Delivery carried by ctx, if any.
func DeliveryFromContext(ctx context.Context) (Delivery, bool) {
	if c, ok := ctx.Value(deliveryKey{}).(*deliveryCtx); ok {
		return c.d, true
	}
	return Delivery{}, false
}
