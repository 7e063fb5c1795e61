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
