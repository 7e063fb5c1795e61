package rabbitmq

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/heraldkit/herald"
)

// TestInteropHeraldToRaw: what Herald publishes, a plain AMQP client sees
// with the key and metadata as headers, the ID as message_id, persistent.
func TestInteropHeraldToRaw(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	tp := openTopicT(t, url)
	ch := rawChannel(t)
	// A plain client binds its own queue to the topic's exchange.
	if err := ch.ExchangeDeclare(topic, "fanout", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteTopology(t, topic) })
	if err := ch.QueueBind(q.Name, "", topic, false, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}

	m := newMsg("from herald")
	herald.SetKey(m, "order-1234")
	m.Metadata.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	if err := sendWait(t, tp, t.Context(), topic, m); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-deliveries:
		if string(d.Body) != "from herald" {
			t.Errorf("body %q", d.Body)
		}
		if d.MessageId != m.UUID {
			t.Errorf("message_id %q, want %q", d.MessageId, m.UUID)
		}
		if d.DeliveryMode != amqp.Persistent {
			t.Errorf("delivery mode %d, want persistent", d.DeliveryMode)
		}
		if d.Headers[herald.KeyHeader] != "order-1234" {
			t.Errorf("key header %v", d.Headers[herald.KeyHeader])
		}
		if d.Headers["traceparent"] != m.Metadata.Get("traceparent") {
			t.Errorf("traceparent header %v", d.Headers["traceparent"])
		}
		if d.Headers["_watermill_message_uuid"] != m.UUID {
			t.Errorf("watermill uuid header %v", d.Headers["_watermill_message_uuid"])
		}
		if d.Timestamp.IsZero() {
			t.Error("no timestamp")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("plain client received nothing")
	}
}

// TestInteropRawToHerald: a message published by a plain AMQP client to
// the topic's exchange, with headers of several types and with or without
// message_id, is consumed by Herald.
func TestInteropRawToHerald(t *testing.T) {
	url := brokerURL(t)
	topic := freshTopic(t)
	sub := openSubT(t, withQuery(url, "group=interop"))
	t.Cleanup(func() { deleteTopology(t, topic, queueName(topic, "interop", "")) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openStreamT(t, sub, topic, 8, nil)
	ch := rawChannel(t)
	headers := amqp.Table{herald.KeyHeader: "k-7", "x-count": int32(3), "x-ok": true, "x-bytes": []byte("raw")}
	if err := ch.PublishWithContext(ctx, topic, "", false, false, amqp.Publishing{Headers: headers, Body: []byte("no id")}); err != nil {
		t.Fatal(err)
	}
	r := receiveN(t, st, 1, 10*time.Second)[0]
	st.Ack(r.Token)
	got := r.Msg
	if r.Key != "k-7" || string(got.Payload) != "no id" || got.UUID == "" {
		t.Fatalf("payload %q id %q", got.Payload, got.UUID)
	}
	if herald.Key(got) != "k-7" || got.Metadata.Get("x-count") != "3" || got.Metadata.Get("x-ok") != "true" || got.Metadata.Get("x-bytes") != "raw" {
		t.Errorf("metadata %v", got.Metadata)
	}

	if err := ch.PublishWithContext(ctx, topic, "", false, false, amqp.Publishing{MessageId: "raw-id-1", Body: []byte("with id")}); err != nil {
		t.Fatal(err)
	}
	r = receiveN(t, st, 1, 10*time.Second)[0]
	st.Ack(r.Token)
	if got := r.Msg; got.UUID != "raw-id-1" {
		t.Errorf("id %q, want the message_id raw-id-1", got.UUID)
	}
}
