package rabbitmq

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
)

// TestForeignDirectiveHeaderForwards (issue 18, review finding 5):
// another AMQP client's message may carry headers named amqp-expiration,
// amqp-timestamp or amqp-type (before herald.Properties, those metadata
// entries were the properties on publish). Consumed, they are metadata
// entries like any other, and a copy published again (DeadLetter's, a
// bridge) is written with the headers kept and no property set from
// them, whatever their values.
func TestForeignDirectiveHeaderForwards(t *testing.T) {
	for k, v := range map[string]string{ExpirationHeader: "soon", "amqp-timestamp": "1700000000", TypeHeader: "t.1"} {
		d := &amqp.Delivery{MessageId: "m1", Exchange: "orders", Body: []byte("x"), Headers: amqp.Table{k: v}}
		m := fromDelivery(d)
		pub, err := publishing(m.Copy(), herald.Properties{})
		if err != nil {
			t.Errorf("%s: %q: forwarding the consumed message fails: %v", k, v, err)
			continue
		}
		if pub.Expiration != "" || pub.Type != "" {
			t.Errorf("%s: %q: the forwarded copy has expiration %q, type %q; want none", k, v, pub.Expiration, pub.Type)
		}
		if got := fromDelivery(delivered(pub, "orders.dlq")).Metadata[k]; got != v {
			t.Errorf("%s: the forwarded copy carries %q; want the header %q kept", k, got, v)
		}
	}
}

// TestExpirationNotForwarded: a consumed message's expiration (its TTL in
// the queue it came from, spent once delivered) is not re-applied to a
// copy published again: RabbitMQ removes it when it dead-letters a
// message "to prevent it from expiring again", and Herald's DeadLetter
// copy (msg.Copy() with the metadata) must not expire unread in the
// dead-letter queue either. The report entry travels as a header.
func TestExpirationNotForwarded(t *testing.T) {
	d := &amqp.Delivery{Exchange: "orders", Body: []byte("x"), Expiration: "60000", MessageId: "m1"}
	m := fromDelivery(d)
	if got := m.Metadata[ExpirationHeader]; got != "60000" {
		t.Fatalf("consumed %s = %q; want the property reported, 60000", ExpirationHeader, got)
	}
	pub, err := publishing(m.Copy(), herald.Properties{})
	if err != nil {
		t.Fatal(err)
	}
	if pub.Expiration != "" {
		t.Errorf("the forwarded copy expires after %s ms in the dead-letter queue; want no expiration", pub.Expiration)
	}
	if pub.Headers[ExpirationHeader] != "60000" {
		t.Errorf("the forwarded copy's %s header = %v; want the report kept as a header", ExpirationHeader, pub.Headers[ExpirationHeader])
	}
}
