package herald

import "context"

// Delivery describes where a message is being published or consumed. The
// subscriber puts it in the context its handlers (and middleware) receive;
// the publisher puts it in the context of publish middleware.
type Delivery struct {
	Backend string // the scheme: kafka, amqp, nats, mem, embedded
	Topic   string
	Group   string // "" on the publish side and for private subscribers
	// Attempt is the backend's count of deliveries of the message being
	// handled (1 for the first) where the backend keeps one (JetStream),
	// else 0. It counts across processes and restarts.
	Attempt int
}

type deliveryKey struct{}

// ContextWithDelivery returns a context carrying d.
func ContextWithDelivery(ctx context.Context, d Delivery) context.Context {
	return context.WithValue(ctx, deliveryKey{}, d)
}

// DeliveryFromContext returns the Delivery carried by ctx, if any.
func DeliveryFromContext(ctx context.Context) (Delivery, bool) {
	d, ok := ctx.Value(deliveryKey{}).(Delivery)
	return d, ok
}
