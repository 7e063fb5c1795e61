package rabbitmq

import (
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// delivered is what the broker hands a consumer for pub (no broker: the
// fields a delivery copies from the publishing).
func delivered(pub amqp.Publishing, exchange string) *amqp.Delivery {
	return &amqp.Delivery{
		Headers: pub.Headers, ContentType: pub.ContentType, ContentEncoding: pub.ContentEncoding,
		DeliveryMode: pub.DeliveryMode, CorrelationId: pub.CorrelationId, ReplyTo: pub.ReplyTo,
		Expiration: pub.Expiration, MessageId: pub.MessageId, Timestamp: pub.Timestamp, Type: pub.Type,
		Exchange: exchange, Body: pub.Body,
	}
}

// TestPublishingProperties: the metadata entries publishing maps become
// AMQP properties and stay headers, herald.Properties are the timestamp,
// expiration and type properties only, and fromDelivery reads them back
// (type and expiration into their report entries, the timestamp as
// Received.Time).
func TestPublishingProperties(t *testing.T) {
	m := herald.NewMessage([]byte("x"))
	md := map[string]string{
		herald.ContentTypeHeader:   "application/json",
		ContentEncodingHeader:      "gzip",
		adapters.CorrelationHeader: "corr-1",
		adapters.ReplyToHeader:     "my-reply-queue",
	}
	for k, v := range md {
		m.Metadata.Set(k, v)
	}
	ts := time.Date(2026, 12, 7, 13, 40, 0, 0, time.UTC)
	pub, err := publishing(m, herald.Properties{Time: ts, TTL: 1500 * time.Microsecond, Type: "order.placed"})
	if err != nil {
		t.Fatal(err)
	}
	if pub.ContentType != "application/json" || pub.ContentEncoding != "gzip" || pub.CorrelationId != "corr-1" ||
		pub.ReplyTo != "my-reply-queue" || pub.Type != "order.placed" || pub.Expiration != "2" || !pub.Timestamp.Equal(ts) {
		t.Errorf("properties %+v; want expiration 2 (1.5 ms rounded up)", pub)
	}
	for _, k := range []string{TypeHeader, ExpirationHeader} {
		if _, ok := pub.Headers[k]; ok {
			t.Errorf("header %s sent; herald.Properties are properties only", k)
		}
	}
	for _, k := range []string{herald.ContentTypeHeader, ContentEncodingHeader, adapters.CorrelationHeader, adapters.ReplyToHeader} {
		if pub.Headers[k] != md[k] {
			t.Errorf("header %s = %v; want %q (kept for watermill-amqp consumers)", k, pub.Headers[k], md[k])
		}
	}
	got := fromDelivery(delivered(pub, "t"))
	md[TypeHeader], md[ExpirationHeader] = "order.placed", "2"
	for k, v := range md {
		if got.Metadata.Get(k) != v {
			t.Errorf("read back %s = %q; want %q", k, got.Metadata.Get(k), v)
		}
	}
	none, err := publishing(herald.NewMessage(nil), herald.Properties{})
	if err != nil || none.Type != "" || none.Expiration != "" || time.Since(none.Timestamp) > time.Minute {
		t.Errorf("zero Properties: %+v, %v; want no type, no expiration, the publish time", none, err)
	}
}

// TestPropertyWinsOverHeader: a foreign message whose property and
// header of one name differ reads the property.
func TestPropertyWinsOverHeader(t *testing.T) {
	d := &amqp.Delivery{MessageId: "m", ContentType: "text/plain", CorrelationId: "prop",
		Headers: amqp.Table{herald.ContentTypeHeader: "application/json", adapters.CorrelationHeader: "hdr", "plain": "kept"}}
	got := fromDelivery(d)
	if got.Metadata.Get(herald.ContentTypeHeader) != "text/plain" || got.Metadata.Get(adapters.CorrelationHeader) != "prop" || got.Metadata.Get("plain") != "kept" {
		t.Errorf("metadata %v", got.Metadata)
	}
}

// TestPublishingRefusesBadProperties: a TTL over AMQP's 2^32-1 ms and a
// type over 255 bytes are KindInvalid naming the field, before anything
// is sent (RabbitMQ closes the channel over a bad expiration).
func TestPublishingRefusesBadProperties(t *testing.T) {
	_, err := publishing(herald.NewMessage(nil), herald.Properties{TTL: 50 * 24 * time.Hour})
	if err == nil || kindOf(err) != herald.KindInvalid || !strings.Contains(err.Error(), "TTL") {
		t.Errorf("a 50-day TTL: err = %v; want KindInvalid naming TTL", err)
	}
	pub, err := publishing(herald.NewMessage(nil), herald.Properties{Type: strings.Repeat("t", 256)})
	if err == nil {
		err = checkPublishing(pub, 0, 0)
	}
	if err == nil || kindOf(err) != herald.KindInvalid || !strings.Contains(err.Error(), "Properties.Type") {
		t.Errorf("a 256-byte type: err = %v; want KindInvalid naming Properties.Type", err)
	}
}

// TestReservedHeadersEscaped: metadata named like the ID header or
// starting with Herald-Enc- is escaped, not overwritten, and comes back
// exactly; the ID header is still the message's ID. RedeliveredHeader is
// not sent (it describes a receipt).
func TestReservedHeadersEscaped(t *testing.T) {
	m := herald.NewMessage([]byte("x"))
	m.Metadata.Set(uuidHeader, "users-own")
	m.Metadata.Set("Herald-Enc-looks-escaped", "v")
	m.Metadata.Set(RedeliveredHeader, "true")
	pub, err := publishing(m, herald.Properties{})
	if err != nil {
		t.Fatal(err)
	}
	if pub.Headers[uuidHeader] != m.UUID {
		t.Errorf("%s header = %v; want the ID %s", uuidHeader, pub.Headers[uuidHeader], m.UUID)
	}
	if _, ok := pub.Headers[RedeliveredHeader]; ok {
		t.Errorf("%s sent", RedeliveredHeader)
	}
	got := fromDelivery(delivered(pub, "t"))
	if got.UUID != m.UUID || got.Metadata.Get(uuidHeader) != "users-own" || got.Metadata.Get("Herald-Enc-looks-escaped") != "v" {
		t.Errorf("id %q metadata %v", got.UUID, got.Metadata)
	}
	if _, ok := got.Metadata[RedeliveredHeader]; ok {
		t.Errorf("a first delivery has %s", RedeliveredHeader)
	}
}

// TestDigestIDStable: a foreign message without an ID gets the same ID on
// every delivery (redelivered flag, x-delivery-count, x-death and
// delivery tag change), and another ID when its body, headers or routing
// differ.
func TestDigestIDStable(t *testing.T) {
	first := &amqp.Delivery{Exchange: "orders", RoutingKey: "", DeliveryTag: 1, Body: []byte("b"),
		Headers: amqp.Table{"a": "1", "n": int32(2)}}
	again := &amqp.Delivery{Exchange: "orders", RoutingKey: "", DeliveryTag: 9, Redelivered: true, Body: []byte("b"),
		Headers: amqp.Table{"n": int32(2), "a": "1", "x-delivery-count": int64(3), "x-death": []any{amqp.Table{"count": int64(1)}}}}
	id := fromDelivery(first).UUID
	if !strings.HasPrefix(id, "sha256:") || len(id) != len("sha256:")+32 {
		t.Errorf("id %q; want sha256: and 32 hex digits", id)
	}
	if got := fromDelivery(again).UUID; got != id {
		t.Errorf("redelivery id %q; want %q", got, id)
	}
	for name, d := range map[string]*amqp.Delivery{
		"body":        {Exchange: "orders", Body: []byte("c"), Headers: amqp.Table{"a": "1", "n": int32(2)}},
		"header":      {Exchange: "orders", Body: []byte("b"), Headers: amqp.Table{"a": "2", "n": int32(2)}},
		"exchange":    {Exchange: "other", Body: []byte("b"), Headers: amqp.Table{"a": "1", "n": int32(2)}},
		"routing key": {Exchange: "orders", RoutingKey: "k", Body: []byte("b"), Headers: amqp.Table{"a": "1", "n": int32(2)}},
		"shifted":     {Exchange: "orders", Body: []byte("b"), Headers: amqp.Table{"a": "1n", "": int32(2)}},
	} {
		if fromDelivery(d).UUID == id {
			t.Errorf("%s differs but the id is the same", name)
		}
	}
}
