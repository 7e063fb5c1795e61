package rabbitmq

import (
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestDigestIDCoversProperties: two foreign messages without message_id
// that differ only in an AMQP property are different messages and must
// get different IDs, or ID-based de-duplication (middleware.Deduplicate,
// an inbox) drops the second: two RPC requests with the same body from two
// clients differ only in correlation_id and reply_to; two events of one
// body in type or timestamp. The properties never change across a
// redelivery, so covering them keeps the ID stable (expiration aside:
// RabbitMQ removes it when it dead-letters a message).
func TestDigestIDCoversProperties(t *testing.T) {
	base := func() *amqp.Delivery {
		return &amqp.Delivery{Exchange: "", RoutingKey: "rpc", Body: []byte(`{"op":"status"}`),
			ContentType: "application/json", CorrelationId: "c1", ReplyTo: "amq.rabbitmq.reply-to.A",
			Type: "status", Timestamp: time.Unix(1700000000, 0), AppId: "a", UserId: "guest", Priority: 1}
	}
	id := fromDelivery(base()).UUID
	again := base()
	again.Redelivered, again.DeliveryTag = true, 7
	if got := fromDelivery(again).UUID; got != id {
		t.Fatalf("redelivery id %q; want %q", got, id)
	}
	for name, change := range map[string]func(*amqp.Delivery){
		"correlation_id":   func(d *amqp.Delivery) { d.CorrelationId = "c2" },
		"reply_to":         func(d *amqp.Delivery) { d.ReplyTo = "amq.rabbitmq.reply-to.B" },
		"type":             func(d *amqp.Delivery) { d.Type = "other" },
		"timestamp":        func(d *amqp.Delivery) { d.Timestamp = d.Timestamp.Add(time.Second) },
		"content_type":     func(d *amqp.Delivery) { d.ContentType = "text/plain" },
		"content_encoding": func(d *amqp.Delivery) { d.ContentEncoding = "gzip" },
		"app_id":           func(d *amqp.Delivery) { d.AppId = "b" },
		"user_id":          func(d *amqp.Delivery) { d.UserId = "other" },
		"priority":         func(d *amqp.Delivery) { d.Priority = 2 },
	} {
		d := base()
		change(d)
		if fromDelivery(d).UUID == id {
			t.Errorf("messages differing in %s get the same id %s", name, id)
		}
	}
}
