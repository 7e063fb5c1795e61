package rabbitmq

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// rawChannel dials the test broker with amqp091-go directly, as another
// tool would, and returns a channel closed with the test.
func rawChannel(t testing.TB) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(brokerURL(t))
	if err != nil {
		t.Fatalf("amqp091 dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("amqp091 channel: %v", err)
	}
	return ch
}

// deleteTopology removes a test's queue and exchange.
func deleteTopology(t testing.TB, exchange string, queues ...string) {
	ch := rawChannel(t)
	for _, q := range queues {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Logf("delete queue %q: %v", q, err)
			return
		}
	}
	if exchange != "" {
		_ = ch.ExchangeDelete(exchange, false, false) // absent for watermill-stock

	}
}
