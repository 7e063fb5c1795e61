package rabbitmq

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestForeignDirectiveHeaderForwards: another AMQP client's message may
// carry headers named amqp-expiration, amqp-timestamp or amqp-type (Herald
// never sends those as headers: on publish they are the expiration,
// timestamp and type properties). Consumed, they are metadata entries like
// any other, and a copy published again (DeadLetter's, a bridge) must be
// written with the headers kept. On contract a value that is not what the
// property takes fails the publish, so the dead letter is never written.
func TestForeignDirectiveHeaderForwards(t *testing.T) {
	for k, v := range map[string]string{ExpirationHeader: "soon", TimestampHeader: "1700000000"} {
		d := &amqp.Delivery{MessageId: "m1", Exchange: "orders", Body: []byte("x"), Headers: amqp.Table{k: v}}
		m := fromDelivery(d)
		pub, err := publishing(m.Copy())
		if err != nil {
			t.Errorf("%s: %q: forwarding the consumed message fails: %v", k, v, err)
			continue
		}
		if got := fromDelivery(delivered(pub, "orders.dlq")).Metadata[k]; got != v {
			t.Errorf("%s: the forwarded copy carries %q; want the header %q kept", k, got, v)
		}
	}
}

// TestExpirationNotForwarded: a consumed message's expiration (its TTL in
// the queue it came from, spent once delivered) must not be re-applied to
// a copy published again: RabbitMQ removes it when it dead-letters a
// message "to prevent it from expiring again", but Herald's DeadLetter
// copy (msg.Copy() with the metadata) is published with the same
// expiration and expires unread from the dead-letter queue: the dead
// letter is lost.
func TestExpirationNotForwarded(t *testing.T) {
	d := &amqp.Delivery{Exchange: "orders", Body: []byte("x"), Expiration: "60000", MessageId: "m1"}
	pub, err := publishing(fromDelivery(d).Copy())
	if err != nil {
		t.Fatal(err)
	}
	if pub.Expiration != "" {
		t.Errorf("the forwarded copy expires after %s ms in the dead-letter queue; want no expiration", pub.Expiration)
	}
}
