package nats_test

import (
	"testing"

	"github.com/heraldkit/herald/adapters/internal/natsx/natsxtest"
)

// Issue 14 item 5 end to end: window 2, concurrency 1, 600ms handlers,
// ack_wait=1s: no message handled twice.
func TestE2ESlowHandlersNoDuplicates(t *testing.T) {
	natsxtest.E2ESlowHandlersNoDuplicates(t, brokerURL(t), topic(t))
}

// Issue 14 item 10 end to end: the subscriber's redelivery delay is
// honoured by the server (NakWithDelay).
func TestE2ENackDelay(t *testing.T) { natsxtest.E2ENackDelay(t, brokerURL(t), topic(t)) }
