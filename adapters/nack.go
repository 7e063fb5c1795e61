package adapters

import (
	"context"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

type nackDelayKey struct{}

// SetNackDelay records on msg, before msg.Nack, that the handler asked for
// redelivery after d (see herald.RetryAfter). Adapters whose backend can
// delay a redelivery (JetStream NakWithDelay, for example) read it with
// NackDelay; others redeliver as usual.
func SetNackDelay(msg *message.Message, d time.Duration) {
	msg.SetContext(context.WithValue(msg.Context(), nackDelayKey{}, d))
}

// NackDelay returns the redelivery delay recorded by SetNackDelay.
func NackDelay(msg *message.Message) (time.Duration, bool) {
	d, ok := msg.Context().Value(nackDelayKey{}).(time.Duration)
	return d, ok
}

type deliveryCountKey struct{}

// SetDeliveryCount records on msg, before handing it to the subscriber,
// the backend's count of deliveries of this message (1 for the first).
// The subscriber exposes it to handlers as herald.Delivery.Attempt.
func SetDeliveryCount(msg *message.Message, n int) {
	msg.SetContext(context.WithValue(msg.Context(), deliveryCountKey{}, n))
}

// DeliveryCount returns the count recorded by SetDeliveryCount.
func DeliveryCount(msg *message.Message) (int, bool) {
	n, ok := msg.Context().Value(deliveryCountKey{}).(int)
	return n, ok
}
