package rabbitmq

import (
	"context"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
	"github.com/heraldkit/herald/adapters"
)

// rawQueue binds a plain client's exclusive queue to topic's exchange
// and returns its deliveries.
func rawQueue(t *testing.T, ch *amqp.Channel, topic string) <-chan amqp.Delivery {
	t.Helper()
	if err := ch.ExchangeDeclare(topic, "fanout", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "", topic, false, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return deliveries
}

// TestPropertiesHeraldToRaw (issue 18 items 3 and 5): a plain AMQP client
// sees Herald's content type, encoding, correlation ID, reply address,
// type, expiration and timestamp as the AMQP properties, and a metadata
// entry named like the ID header escaped, not overwritten.
func TestPropertiesHeraldToRaw(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	tp := openTopicT(t, url)
	ch := rawChannel(t)
	t.Cleanup(func() { deleteTopology(t, topic) })
	deliveries := rawQueue(t, ch, topic)

	m := newMsg(`{"order":1}`)
	m.Metadata.Set(herald.ContentTypeHeader, "application/json")
	m.Metadata.Set(ContentEncodingHeader, "identity")
	m.Metadata.Set(adapters.CorrelationHeader, "corr-7")
	m.Metadata.Set(adapters.ReplyToHeader, "replies-here")
	m.Metadata.Set(uuidHeader, "not the id")
	props := herald.Properties{Type: "com.example.order.placed", TTL: 10 * time.Minute, Time: time.Date(2026, 12, 7, 13, 40, 0, 0, time.UTC)}
	if err := sendWaitWith(t, tp, t.Context(), topic, m, adapters.SendOptions{Properties: props}); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-deliveries:
		if d.ContentType != "application/json" || d.ContentEncoding != "identity" || d.CorrelationId != "corr-7" ||
			d.ReplyTo != "replies-here" || d.Type != "com.example.order.placed" || d.Expiration != "600000" {
			t.Errorf("properties content_type %q content_encoding %q correlation_id %q reply_to %q type %q expiration %q",
				d.ContentType, d.ContentEncoding, d.CorrelationId, d.ReplyTo, d.Type, d.Expiration)
		}
		if want := time.Date(2026, 12, 7, 13, 40, 0, 0, time.UTC); !d.Timestamp.Equal(want) {
			t.Errorf("timestamp %v; want %v", d.Timestamp, want)
		}
		if d.MessageId != m.UUID || d.Headers[uuidHeader] != m.UUID {
			t.Errorf("message_id %q, %s header %v; want the ID %s", d.MessageId, uuidHeader, d.Headers[uuidHeader], m.UUID)
		}
		escaped := false
		for k := range d.Headers {
			escaped = escaped || strings.HasPrefix(k, "Herald-Enc-")
		}
		if !escaped {
			t.Errorf("headers %v: the user's %s entry is not escaped", d.Headers, uuidHeader)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("plain client received nothing")
	}
}

// TestPropertiesRawToHerald (issue 18 items 3 and 4): a plain client's
// properties reach Herald's metadata and Received.Time, and a message
// without message_id keeps its ID when the broker redelivers it.
func TestPropertiesRawToHerald(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	sub := openSubT(t, withQuery(url, "group=props"))
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "props", "")) })
	st := openStreamT(t, sub, topic, 8, nil)
	ch := rawChannel(t)
	ts := time.Date(2026, 12, 7, 13, 40, 0, 0, time.UTC)
	pub := amqp.Publishing{ContentType: "text/plain", ContentEncoding: "identity", CorrelationId: "c-1", ReplyTo: "rq",
		Type: "t.1", Expiration: "600000", Timestamp: ts, Headers: amqp.Table{"x-custom": int32(1), "h": "v"}, Body: []byte("foreign")}
	if err := ch.PublishWithContext(t.Context(), topic, "", false, false, pub); err != nil {
		t.Fatal(err)
	}
	r := receiveN(t, st, 1, 10*time.Second)[0]
	md := r.Msg.Metadata
	for k, v := range map[string]string{herald.ContentTypeHeader: "text/plain", ContentEncodingHeader: "identity",
		adapters.CorrelationHeader: "c-1", adapters.ReplyToHeader: "rq", TypeHeader: "t.1", ExpirationHeader: "600000", "h": "v"} {
		if md.Get(k) != v {
			t.Errorf("metadata %s = %q; want %q (all: %v)", k, md.Get(k), v, md)
		}
	}
	if !r.Time.Equal(ts) {
		t.Errorf("Received.Time = %v; want the timestamp %v", r.Time, ts)
	}
	id := r.Msg.UUID
	if !strings.HasPrefix(id, "sha256:") {
		t.Errorf("id %q; want the digest", id)
	}
	st.Nack(r.Token, 0)
	again := receiveN(t, st, 1, 10*time.Second)[0]
	st.Ack(again.Token)
	if again.Msg.Metadata.Get(RedeliveredHeader) != "true" || again.Msg.UUID != id {
		t.Errorf("redelivery: id %q redelivered %q; want id %q, redelivered", again.Msg.UUID, again.Msg.Metadata.Get(RedeliveredHeader), id)
	}
}

// TestExpirationWithDelayRefused: a delayed publish with a per-message
// TTL is refused (the tiers would expire it early), KindInvalid naming
// the backend and the field.
func TestExpirationWithDelayRefused(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	tp := openTopicT(t, url)
	t.Cleanup(func() { deleteTopology(t, topic) })
	m := newMsg("x")
	o := adapters.SendOptions{At: time.Now().Add(time.Minute), Properties: herald.Properties{TTL: time.Second}}
	err := tp.Send(context.Background(), topic, m, o, func(error) { t.Error("done called") })
	kindIs(t, "a delayed Send with a TTL", err, herald.KindInvalid)
	if err == nil || !strings.Contains(err.Error(), "Properties.TTL") || !strings.Contains(err.Error(), "amqp") {
		t.Errorf("err %v; want it to name Properties.TTL and the backend", err)
	}
}
